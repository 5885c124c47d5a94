"""Where condorexec's log lines go: Parsl's log file under Parsl, stderr with a command's ``-debug``.

condorexec's modules log to ``condorexec.*`` loggers, which are not children of ``parsl``, so the
handler Parsl's ``DataFlowKernel`` puts on the ``parsl`` logger (``parsl.log_utils.set_file_logger``,
writing ``runinfo/NNN/parsl.log``) never sees them, and Python's last-resort handler shows only
WARNING and worse on stderr. :func:`follow_parsl` makes them reach whatever handlers the ``parsl``
logger has at the moment of each record, as Parsl's own executors' records do (their modules log
under ``parsl.executors``): when the run's handler is removed at cleanup, nothing more goes there.

Like Parsl does for its ``parsl`` logger, the ``condorexec`` logger is set to DEBUG while it follows
Parsl, unless the user set a level on it: parsl.log is Parsl's debugging record.
"""

from __future__ import annotations

import logging
from typing import TextIO

#: the logger every condorexec module logs under
ROOT = "condorexec"

#: condor_submit -debug's line start (HTCondor's dprintf: month/day/year time)
DEBUG_FORMAT = "%(asctime)s (%(name)s) %(levelname)s: %(message)s"
DEBUG_DATE_FORMAT = "%m/%d/%y %H:%M:%S"


class ToParslHandlers(logging.Handler):
    """Hands each record to the handlers on the ``parsl`` logger (not up its hierarchy: the record
    already reaches the root logger's handlers through ``condorexec``)."""

    def emit(self, record: logging.LogRecord) -> None:
        for handler in logging.getLogger("parsl").handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


def follow_parsl() -> None:
    """Send condorexec's records to Parsl's log handlers from now on; idempotent."""
    logger = logging.getLogger(ROOT)
    if any(isinstance(h, ToParslHandlers) for h in logger.handlers):
        return
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG)
    logger.addHandler(ToParslHandlers())


#: the name of the ``-debug`` handler, by which :func:`stop_debug` finds it
DEBUG_HANDLER = "condorexec -debug"

#: the ``condorexec`` logger's level before ``-debug`` set DEBUG, for :func:`stop_debug` to put back
_level_before_debug: int | None = None


def debug_to(stream: TextIO) -> None:
    """``-debug``: every condorexec record, DEBUG up, on ``stream`` with condor_submit's timestamps.
    Replaces an earlier ``-debug`` handler, so commands run one after another in one process do
    not print each line twice."""
    global _level_before_debug
    stop_debug()
    logger = logging.getLogger(ROOT)
    _level_before_debug = logger.level
    handler = logging.StreamHandler(stream)
    handler.set_name(DEBUG_HANDLER)
    handler.setFormatter(logging.Formatter(DEBUG_FORMAT, DEBUG_DATE_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def stop_debug() -> None:
    """Undo :func:`debug_to` (the end of a command): its handler goes, the level it replaced comes back
    (so a process that also follows Parsl keeps sending DEBUG lines to parsl.log)."""
    global _level_before_debug
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if h.get_name() == DEBUG_HANDLER]:
        logger.removeHandler(handler)
    if _level_before_debug is not None:
        logger.setLevel(_level_before_debug)
        _level_before_debug = None
