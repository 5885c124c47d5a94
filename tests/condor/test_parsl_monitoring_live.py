"""Parsl monitoring through CondorExecutor on the live pool: the messages come back by HTCondor's
file transfer, with no connection from the execute node to the submitter."""

from __future__ import annotations

import sys

import cloudpickle
import pytest

from condorexec import CondorExecutor
from tests.parsl_suite import monitoring
from tests.parsl_suite.monitoring import check_monitoring

pytestmark = pytest.mark.condor

# the app lives in a test module the execute node cannot import: send it by value
cloudpickle.register_pickle_by_value(sys.modules[monitoring.__name__])


def test_the_monitoring_database_records_states_running_times_and_resource_samples(condor_pool, job_dir):
    check_monitoring(CondorExecutor(label="monitored", pool="condor"), job_dir)
