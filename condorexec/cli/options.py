"""Argument parsing shared by the commands: condor-style options on top of argparse.

HTCondor tools take single-dash long options (``-dry-run``, ``-batch-name``); condorexec users may
also type the GNU form (``--dry-run``), so every long option is registered under both spellings.
argparse's own error path exits with status 2 and no usage on stdout; condor tools print the
message and the usage and exit 1, so errors are turned into :class:`UsageError` and ``main``
decides what to print.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from condorexec import logsetup
from condorexec.pools.local.layout import default_state_dir

#: environment variable naming the local pool's state directory (``--state-dir`` wins over it)
STATE_DIR_ENV = "CONDOREXEC_STATE_DIR"
#: environment variable choosing the pool: auto, local or condor (``--backend`` wins over it)
BACKEND_ENV = "CONDOREXEC_POOL"


class UsageError(Exception):
    """A command line the command does not accept; carries the usage text to print with it."""

    def __init__(self, message: str, usage: str):
        super().__init__(message)
        self.usage = usage


class CondorArgumentParser(argparse.ArgumentParser):
    """argparse without abbreviations, raising :class:`UsageError` instead of exiting."""

    def __init__(self, prog: str, description: str = ""):
        super().__init__(prog=prog, description=description, allow_abbrev=False, add_help=False)
        self.add_argument("-help", "--help", "-h", action="help", help="show this help and exit")
        self.add_option("debug", action="store_true",
                        help="print debugging output (condorexec's DEBUG log) to stderr, as condor_submit -debug does")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's, then ``-debug`` takes effect (stderr as it is now: a test may have replaced it)."""
        parsed = super().parse_args(args, namespace)
        if parsed.debug:
            logsetup.debug_to(sys.stderr)
        return parsed

    def parse_intermixed_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                              namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's (positionals and options in any order, as condor_submit takes ``var=value``
        anywhere), then ``-debug`` takes effect as in :meth:`parse_args`."""
        parsed = super().parse_intermixed_args(args, namespace)
        if parsed.debug:
            logsetup.debug_to(sys.stderr)
        return parsed

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())

    def add_option(self, name: str, *aliases: str, **kwargs: Any) -> argparse.Action:
        """Register ``-name`` and ``--name`` (plus short ``aliases`` such as ``-a``)."""
        return self.add_argument(f"-{name}", f"--{name}", *aliases, **kwargs)


def add_pool_options(parser: CondorArgumentParser) -> None:
    """Options that say which pool a command talks to."""
    parser.add_option("name", metavar="SCHEDD", help="talk to this HTCondor schedd (forces HTCondor)")
    parser.add_option("pool", metavar="COLLECTOR", help="use this HTCondor collector (forces HTCondor)")
    parser.add_option("backend", choices=("auto", "local", "condor"), default=None,
                      help=f"which pool: auto (HTCondor if configured, else local), local or condor "
                           f"(default: ${BACKEND_ENV} or auto)")
    parser.add_option("state-dir", dest="state_dir", metavar="DIR",
                      help=f"the local pool's state directory (default: ${STATE_DIR_ENV} or "
                           f"{default_state_dir()})")


def state_dir(option: str | None) -> Path:
    """The local pool's state directory: the option, the environment, or the platform default."""
    chosen = option or os.environ.get(STATE_DIR_ENV)
    return Path(chosen).expanduser().absolute() if chosen else default_state_dir()


def backend(args: argparse.Namespace) -> str:
    """auto, local or condor; ``-name``/``-pool`` force condor (and conflict with ``--backend local``)."""
    kind = args.backend or os.environ.get(BACKEND_ENV) or "auto"
    if kind not in ("auto", "local", "condor"):
        raise UsageError(f"${BACKEND_ENV}={kind!r}: must be auto, local or condor", "")
    if args.name or args.pool:
        if kind == "local":
            raise UsageError("-name/-pool name an HTCondor schedd; they cannot be used with --backend local", "")
        return "condor"
    return kind
