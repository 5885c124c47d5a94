"""Where condorexec's log lines go (condorexec/logsetup.py): to the handlers the ``parsl`` logger has at
the moment of each record, and to stderr under ``-debug``, without one undoing the other."""

from __future__ import annotations

import io
import logging

import pytest

from condorexec import logsetup


@pytest.fixture
def parsl_handler():
    """A handler on the real ``parsl`` logger, as Parsl's set_file_logger adds one; removed after."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    parsl_logger = logging.getLogger("parsl")
    parsl_logger.addHandler(handler)
    yield stream
    parsl_logger.removeHandler(handler)


def test_records_reach_parsls_handlers_and_debug_does_not_undo_it(parsl_handler):
    logsetup.follow_parsl()
    logsetup.follow_parsl()  # idempotent: one forwarding handler
    logger = logging.getLogger("condorexec.pools.select")
    logger.debug("seen in parsl.log")
    assert parsl_handler.getvalue() == "condorexec.pools.select DEBUG seen in parsl.log\n"

    shown = io.StringIO()
    logsetup.debug_to(shown)  # a CLI command in the same process
    logger.debug("shown on stderr")
    logsetup.stop_debug()
    assert shown.getvalue().endswith("(condorexec.pools.select) DEBUG: shown on stderr\n")
    logger.debug("still in parsl.log after -debug ended")
    assert parsl_handler.getvalue().splitlines() == [
        "condorexec.pools.select DEBUG seen in parsl.log",
        "condorexec.pools.select DEBUG shown on stderr",
        "condorexec.pools.select DEBUG still in parsl.log after -debug ended",
    ]
    assert shown.getvalue().count("\n") == 1  # its handler is gone
