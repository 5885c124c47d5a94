"""The ``condorexec`` command: condor_submit-compatible ``submit`` and its companions.

``main`` dispatches to one module per command; each command's ``main(argv, out, err)`` returns the
exit status. Errors users cause (a bad option, a bad submit description, an unreachable schedd)
become one message on stderr and status 1, as HTCondor's tools do, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

from condorexec import logsetup
from condorexec.cli.options import UsageError
from condorexec.errors import CondorexecError
from condorexec.submit import SubmitDescriptionError

#: command name -> module (under condorexec.cli) with a ``main(argv, out, err) -> int``
COMMANDS = {
    "submit": "submit",
    "q": "queue",
    "history": "history_cmd",
    "rm": "rm",
    "wait": "wait",
    "transfer-data": "transfer_data",
    "labels": "labels_cmd",
    "pack": "pack_cmd",
    "workflow": "workflow_cmd",
}

USAGE = """usage: condorexec COMMAND [options]

commands:
  submit    submit a condor_submit description (HTCondor, or the local pool in the foreground)
  q         list queued jobs (like condor_q)
  history   list finished jobs (like condor_history)
  rm        remove jobs (like condor_rm)
  wait      wait for jobs in an event log to finish (like condor_wait)
  transfer-data  fetch the outputs of jobs submitted with -spool (like condor_transfer_data)
  labels    what autolabel has learned per category (table, --plot)
  pack      list, show or clear packed environments
  workflow  what the runs of a named workflow did (workflow=NAME), list workflows, --forget one

'condorexec COMMAND -help' shows a command's options; 'condorexec --version' the version;
'-debug' on any command prints its debugging output to stderr.
"""


def version_text() -> str:
    """``condorexec --version``: condorexec's version, then those of the pieces it runs on (as
    condor_submit -version names its HTCondor version and platform)."""
    from importlib.metadata import PackageNotFoundError, version

    from condorexec import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return (f"condorexec {__version__}\n"
            f"htcondor bindings {installed('htcondor')}, parsl {installed('parsl')}, "
            f"Python {sys.version.split()[0]}\n")


def submit_main() -> int:
    """The ``condorexec_submit`` console script: ``condorexec submit`` as one executable, for a tool that
    takes a path to condor_submit (DAGMan's ``DAGMAN_CONDOR_SUBMIT_EXE``)."""
    return main(["submit", *sys.argv[1:]])


def rm_main() -> int:
    """The ``condorexec_rm`` console script: ``condorexec rm`` as one executable (``DAGMAN_CONDOR_RM_EXE``)."""
    return main(["rm", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``condorexec`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "-help", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 1
    if argv[0] in ("-version", "--version", "version"):
        sys.stdout.write(version_text())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"condorexec: unknown command {command!r}\n{USAGE}")
        return 1
    module = importlib.import_module(f"condorexec.cli.{COMMANDS[command]}")
    try:
        status: int = module.main(rest, sys.stdout, sys.stderr)
        return status
    except UsageError as exc:
        sys.stderr.write(f"condorexec {command}: {exc}\n")
        if exc.usage:
            sys.stderr.write(exc.usage)
        return 1
    except SubmitDescriptionError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 1
    except (CondorexecError, ValueError, OSError) as exc:
        sys.stderr.write(f"condorexec {command}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"condorexec {command}: interrupted\n")
        return 130
    except SystemExit as exc:  # argparse's -help
        return int(exc.code or 0)
    finally:
        logsetup.stop_debug()
