"""Parsl monitoring through CondorExecutor on the local pool: the monitoring database gets each task's
states, its "running" time and resource samples, which travel back with the job (parslmonitor.py).
Before, every monitored call failed with RadioRequiredError."""

from __future__ import annotations

import pytest

from condorexec import CondorExecutor
from tests.parsl_suite.monitoring import check_monitoring


@pytest.mark.slow
def test_the_monitoring_database_records_states_running_times_and_resource_samples(tmp_path):
    check_monitoring(CondorExecutor(label="monitored", pool="local", nodes=["cpus=2,memory=2000,disk=5000"],
                                    state_dir=str(tmp_path / "state"), monitor_period=0.1), tmp_path)
