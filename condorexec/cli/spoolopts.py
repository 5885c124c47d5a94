"""``condorexec submit -spool`` and ``-remote NAME``: the options, and what they mean before a pool is
chosen, kept out of :mod:`condorexec.cli.submit` so that command's own parsing stays its own.

condor_submit (HTCondor 25, ``submit.cpp``): ``-spool`` uploads the jobs' input files to the schedd,
which keeps their outputs until ``condor_transfer_data``; ``-remote NAME`` is ``-spool`` to the schedd
``NAME`` (``-name NAME``). A spooled job cannot also be submitted on hold: condor_submit refuses
``hold = true`` with ``-spool``, because the schedd's release after spooling would undo it.
"""

from __future__ import annotations

import argparse

import htcondor2

from condorexec.cli.options import CondorArgumentParser, UsageError

_TRUE = {"true", "yes", "t", "y", "1"}


def add_options(p: CondorArgumentParser) -> None:
    """Declare ``-spool`` and ``-remote NAME`` on ``condorexec submit``'s parser."""
    p.add_option("spool", action="store_true",
                 help="copy the input files to the pool at submit; keep the outputs there until "
                      "'condorexec transfer-data'")
    p.add_option("remote", metavar="SCHEDD", help="-spool to the HTCondor schedd SCHEDD (implies -name SCHEDD)")


def resolve(args: argparse.Namespace) -> bool:
    """Whether to spool; ``-remote NAME`` becomes ``-name NAME`` (both given and different: an error,
    since condor_submit would silently keep whichever came last)."""
    if args.remote is not None:
        if not args.remote.strip():
            raise UsageError("-remote needs a schedd name, got ''", "")
        if args.name is not None and args.name != args.remote:
            raise UsageError(f"-remote {args.remote!r} and -name {args.name!r} name different schedds", "")
        args.name = args.remote
        args.spool = True
    return bool(args.spool)


def problems(description: htcondor2.Submit) -> list[str]:
    """What a spooled submit of ``description`` cannot do, worded as condor_submit says it."""
    hold = next((str(v) for k, v in description.items() if k.lower() == "hold"), "")
    if hold.strip().lower() in _TRUE:
        return ["Cannot set hold to 'true' when using -remote or -spool"]
    return []


def local_note(cluster: int) -> str:
    """What a foreground run on the local pool tells the user about the outputs it kept."""
    return (f"note: the outputs of cluster {cluster} are kept in the local pool's spool; "
            f"fetch them with: condorexec transfer-data {cluster}")
