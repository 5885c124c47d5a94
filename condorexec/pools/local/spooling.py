"""``-spool`` on the local pool: a job's input files copied into its spool directory at submit, its
outputs kept there until ``condorexec transfer-data`` delivers them.

It does to each job ad what condor_submit ``-spool`` and the schedd do together in HTCondor 25, so the
job ads (``condorexec q -long``, history) read the same: condor_submit renames an ``output``/``error``
given with a directory to ``_condor_stdout``/``_condor_stderr`` and remaps it back; the schedd
(``rewriteSpooledJobAd``) keeps the submitter's ``Iwd``, ``Cmd``, ``In``, ``TransferInput`` and
``TransferOutputRemaps`` as ``SUBMIT_<attr>``, points ``Iwd`` at the spool directory, shortens the
file names to the names they have there and drops the remaps while the job runs (outputs come back
into the spool unrenamed; remaps apply only on retrieval). ``SUBMIT_Iwd`` is how a spooled job is
recognised, as in the schedd.

One difference, because the local pool's jobs are run and watched by the ``submit`` process itself:
the job event log (``UserLog``) is written where the description says, not spooled.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import classad2

from condorexec.errors import SpoolError
from condorexec.pools.local.transfer import copy_files, output_target, parse_remaps, split_list

#: condor_submit's working names for a spooled job's stdout/stderr (StdoutRemapName, StderrRemapName)
STDOUT_NAME, STDERR_NAME = "_condor_stdout", "_condor_stderr"

#: condor_submit's LeaveJobInQueue for a spooled job: kept up to 10 days after completion, until its
#: output has been fetched. Only recorded here: the local pool's queue lives in the submitting process
LEAVE_IN_QUEUE = ("JobStatus == 4 && (time() - (CompletionDate ?: time())) < 864000 && "
                  "(StageOutFinish ?: 0) < EnteredCurrentStatus")


def is_spooled(ad: classad2.ClassAd) -> bool:
    """Whether the job was submitted with ``-spool`` (its ad was rewritten: it has ``SUBMIT_Iwd``)."""
    return "SUBMIT_Iwd" in ad


def _spool_name(entry: str) -> str:
    """The name an input has in the spool: its last path component, a trailing ``/`` kept (``dir/``
    still means "the directory's contents" when the job's sandbox is filled from the spool)."""
    return Path(entry.rstrip("/")).name + ("/" if entry.endswith("/") else "")


def _escape(path: str) -> str:
    """A remap target escaped as condor_submit escapes it (``;``, ``=`` and ``\\``)."""
    return "".join("\\" + c if c in ";=\\" else c for c in path)


def spool_job(ad: classad2.ClassAd, job_dir: Path) -> None:
    """Copy the job's inputs into ``job_dir`` and rewrite ``ad`` to run from there (see the module
    docstring). Raises :class:`SpoolError` naming the file that could not be copied; ``job_dir`` is
    then left for the caller to remove."""
    iwd = Path(str(ad.get("Iwd", os.getcwd())))
    job_dir.mkdir(parents=True, exist_ok=True)
    copies: list[tuple[Path, Path]] = []
    cmd = str(ad.get("Cmd", ""))
    if cmd and ad.get("TransferExecutable", True) is not False:
        copies.append((iwd / cmd, job_dir / _spool_name(cmd)))
        _rewrite(ad, "Cmd", _spool_name(cmd))
    stdin = str(ad.get("In", "/dev/null"))
    if stdin not in ("", "/dev/null") and ad.get("TransferIn", True) is not False:
        copies.append((iwd / stdin, job_dir / _spool_name(stdin)))
        _rewrite(ad, "In", _spool_name(stdin))
    inputs = split_list(ad.get("TransferInput", ""))
    if inputs:
        spooled = []
        for entry in inputs:
            if "://" in entry:  # a URL is fetched by the job's starter, from wherever it is
                spooled.append(entry)
                continue
            name = _spool_name(entry)
            copies.append((iwd / entry.rstrip("/"), job_dir / name.rstrip("/")))
            spooled.append(name)
        _rewrite(ad, "TransferInput", ",".join(spooled))
    for source, _target in copies:
        if not source.exists():
            raise SpoolError(f"cannot spool {source}: No such file or directory")
    failed = copy_files(copies)
    if failed is not None:
        target, exc = failed
        raise SpoolError(f"cannot spool into {target}: {exc.strerror or exc}")
    as_submitted(ad, held=False)  # the local pool queues the jobs only once their inputs are copied
    remaps = ad.get("TransferOutputRemaps")
    if remaps is not None:
        ad["SUBMIT_TransferOutputRemaps"] = remaps
        del ad["TransferOutputRemaps"]
    ad["SUBMIT_Iwd"], ad["Iwd"] = str(iwd), str(job_dir)
    now = int(time.time())
    ad["StageInStart"] = ad["StageInFinish"] = now


def as_submitted(ad: classad2.ClassAd, held: bool = True) -> classad2.ClassAd:
    """condor_submit -spool's own part of the rewrite (what ``-dry-run`` shows; HTCondor 25.14): the
    job queued held ("Spooling input data files", code 16) unless ``held`` is False, kept in the queue
    after completion until fetched, and ``output``/``error`` under working names. Returns ``ad``."""
    _remap_stdio(ad)
    if "LeaveJobInQueue" not in ad or ad.get("LeaveJobInQueue") is False:
        ad["LeaveJobInQueue"] = classad2.ExprTree(LEAVE_IN_QUEUE)
    if held:
        ad["JobStatus"] = 5
        ad["HoldReason"], ad["HoldReasonCode"] = "Spooling input data files", 16
    return ad


def _rewrite(ad: classad2.ClassAd, attr: str, value: str) -> None:
    """Set ``attr`` to its name in the spool, keeping the submitter's as ``SUBMIT_<attr>`` when it
    differs (the schedd backs up only what it changes: ``in.txt`` stays ``in.txt``, no SUBMIT_In)."""
    old = str(ad[attr])
    if old != value:
        ad[f"SUBMIT_{attr}"], ad[attr] = old, value


def _remap_stdio(ad: classad2.ClassAd) -> None:
    """condor_submit -spool: an ``output``/``error`` that is not a bare name is written under a working
    name and remapped back to it (``error`` the same as ``output`` shares stdout's working name)."""
    remaps = [r for r in [str(ad.get("TransferOutputRemaps", "") or "")] if r]
    output = str(ad.get("Out", ""))
    for attr, stream, working in (("Out", "StreamOut", STDOUT_NAME), ("Err", "StreamErr", STDERR_NAME)):
        path = str(ad.get(attr, ""))
        if not path or path == "/dev/null" or path == Path(path).name or ad.get(stream) is True:
            continue
        if attr == "Err" and path == output:
            working = STDOUT_NAME
        ad[attr] = working
        remaps.append(f"{working}={_escape(path)}")
    if remaps:
        ad["TransferOutputRemaps"] = ";".join(remaps)


def retrieve_job(ad: classad2.ClassAd, job_dir: Path) -> None:
    """Deliver a finished spooled job's outputs from ``job_dir`` to where they would have gone without
    ``-spool``: relative to ``SUBMIT_Iwd``, through ``SUBMIT_TransferOutputRemaps``. Raises
    :class:`SpoolError` naming the file that could not be written."""
    iwd = Path(str(ad["SUBMIT_Iwd"]))
    remaps = parse_remaps(ad.get("SUBMIT_TransferOutputRemaps", ""))
    copies = []
    stdio = [str(ad.get(attr, "")) for attr in ("Out", "Err")]
    names = [*(s for s in stdio if s and s != "/dev/null"), *split_list(ad.get("SpooledOutputFiles", ""))]
    for name in dict.fromkeys(names):  # error = output: one file
        source = job_dir / Path(name.rstrip("/")).name
        if source.exists():
            copies.append((source, output_target(name, remaps, iwd)))
    failed = copy_files(copies)
    if failed is not None:
        target, exc = failed
        raise SpoolError(f"job {ad['ClusterId']}.{ad['ProcId']}: writing to file {target}: "
                         f"(errno {exc.errno}) {exc.strerror or exc}")


def discard(job_dir: Path) -> None:
    """Remove a spooled job's directory (its outputs were retrieved, or it will never have any), and
    the ``C%10000/P%10000`` directories above it once they are empty."""
    shutil.rmtree(job_dir, ignore_errors=True)
    for parent in (job_dir.parent, job_dir.parent.parent):
        try:
            parent.rmdir()
        except OSError:
            break  # not empty: another job's directory is still there
