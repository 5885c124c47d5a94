"""Fixtures of the CLI tests: ``clusters``, for the live-pool ones (each such module has a ``schedd``
fixture that skips, saying why, unless the pool and the tools it needs are there: tests/cli/livepool.py)."""

from __future__ import annotations

from collections.abc import Iterator

import htcondor2
import pytest


@pytest.fixture
def clusters(schedd: htcondor2.Schedd) -> Iterator[list[int]]:
    """Cluster ids a test queued; those still queued at the end are removed, whatever happened. Other
    users' jobs may share the pool, so a test acts only on the clusters it records here."""
    ids: list[int] = []
    yield ids
    for cluster in ids:
        if schedd.query(f"ClusterId == {cluster}", ["ProcId"]):
            schedd.act(htcondor2.JobAction.Remove, f"ClusterId == {cluster}")
