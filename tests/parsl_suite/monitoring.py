"""Parsl monitoring through a CondorExecutor, checked from the monitoring database itself: shared by
the local-pool test (tests/integration) and the live-pool one (tests/condor)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import parsl
from parsl import python_app
from parsl.config import Config
from parsl.monitoring import MonitoringHub


@python_app
def busy(seconds, parsl_resource_specification={"memory": 400, "disk": 10}):  # noqa: B006
    import time

    end = time.time() + seconds
    while time.time() < end:
        pass
    return seconds


def check_monitoring(executor, run_dir: Path) -> None:
    """Run three monitored calls on ``executor``; the database must hold each task's states, the time
    its try started running (the node's first message) and resource samples of the 2-second call."""
    database = run_dir / "monitoring.db"
    config = Config(executors=[executor], run_dir=str(run_dir / "runinfo"), strategy="none",
                    monitoring=MonitoringHub(logging_endpoint=f"sqlite:///{database}",
                                             resource_monitoring_interval=0.5))
    with parsl.load(config):
        assert [f.result(timeout=300) for f in [busy(2), busy(0), busy(0)]] == [2, 0, 0]
    with sqlite3.connect(database) as db:
        tries = db.execute("SELECT task_id, task_try_time_running, task_try_time_returned FROM try").fetchall()
        states = {row[0] for row in db.execute("SELECT task_status_name FROM status")}
        samples = dict(db.execute("SELECT task_id, COUNT(*) FROM resource GROUP BY task_id").fetchall())
    assert len(tries) == 3 and all(running and returned for _, running, returned in tries), tries
    assert {"launched", "running", "exec_done"} <= states, states
    assert samples.get(0, 0) >= 1, samples  # the 2-second call was sampled while it ran
