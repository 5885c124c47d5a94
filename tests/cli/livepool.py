"""What the live-pool CLI tests share (``-m condor``, run as the pool's user; see ci/condor-tests.sh): the
skip that says why no pool is usable. Each live module's ``schedd`` fixture calls it with the tools it
needs; the ``clusters`` fixture is in conftest.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import pytest

from condorexec.pools.select import condor_config_source, probe_schedd

HOW = "start one with shared/htcondor/pool start and run these tests via ci/condor-tests.sh"


def pool_or_skip(tools: Sequence[str] = ("condor_submit",)) -> None:
    """Skip (saying why) unless a schedd answers and HTCondor's ``tools`` are on PATH."""
    if os.geteuid() == 0:
        pytest.skip(f"running as root, and HTCondor never accepts jobs owned by root: {HOW}")
    if condor_config_source() is None:
        pytest.skip(f"no HTCondor configuration (CONDOR_CONFIG unset): {HOW}")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"HTCondor's tools are not on PATH ({', '.join(missing)}): {HOW}")
    ok, detail = probe_schedd(timeout=5)
    if not ok:
        pytest.skip(f"no HTCondor schedd answered within 5s ({detail}): {HOW}")
