"""Run the whole fault and bad-input suite and print its totals (docs/faults.md).

The suite is every test marked ``bad_input``, ``fault`` or ``security``: the cases in tests/faults/
and the marked tests elsewhere in tests/. The totals are printed by tests/conftest.py at the end of
any pytest run that includes them; this script runs only them. Usage::

    .venv/bin/python tests/faults/report.py        # add -m condor ... via ci/condor-tests.sh for live cases
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-m", "(bad_input or fault or security) and not condor",
                          str(TESTS), *sys.argv[1:]]))
