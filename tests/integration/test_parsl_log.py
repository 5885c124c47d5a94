"""Under Parsl, condorexec's log lines reach ``runinfo/NNN/parsl.log`` as Parsl's own executors' do,
and the executor says at INFO, once, which pool it runs on (condorexec/logsetup.py)."""

from __future__ import annotations

import time

import parsl
import pytest
from parsl import python_app
from parsl.config import Config

from condorexec import CondorExecutor
from condorexec.labels.store import LabelStore, Sample
from condorexec.pools.select import ASK_FOR_LOCAL, PoolUnreachableError
from condorexec.spec import parse_spec


def _double(x):
    return 2 * x


def test_a_condorexec_warning_and_the_pool_line_land_in_parsl_log(tmp_path):
    executor = CondorExecutor(label="daylog", pool="local", nodes=["cpus=2,memory=2000,disk=10000"],
                              state_dir=str(tmp_path / "state"), autolabel=True, autocategory=True,
                              label_store=str(tmp_path / "labels.sqlite"), monitor_period=0.1)
    # a label learned for other code of this category: the first call warns that the code changed
    category = executor._category_for(_double, parse_spec({}))
    with LabelStore(tmp_path / "labels.sqlite") as store:
        store.note_app(category, "the fingerprint of older code")
        store.add_samples([Sample(category, f"900.{i}", 1.0, 300.0, 10.0, 5.0, None, time.time() - 100 + i)
                           for i in range(3)])
    dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none"))
    try:
        assert python_app(_double, executors=["daylog"])(21).result(timeout=60) == 42
        log_path = dfk.run_dir + "/parsl.log"
    finally:
        dfk.cleanup()
    text = open(log_path).read()
    pool_lines = [ln for ln in text.splitlines() if "condorexec.executor" in ln and "daylog: pool:" in ln]
    assert len(pool_lines) == 1 and " INFO: " in pool_lines[0], pool_lines
    assert pool_lines[0].endswith("daylog: pool: local: the embedded local pool, as asked")
    warned = [ln for ln in text.splitlines() if " WARNING: " in ln and "code changed" in ln]
    assert len(warned) == 1 and "condorexec.executor" in warned[0] and repr(category) in warned[0], warned


def test_an_executor_refuses_a_configured_schedd_that_does_not_answer(dead_pool_config, tmp_path):
    executor = CondorExecutor(label="nopool", state_dir=str(tmp_path / "state"))  # pool="auto", the default
    executor.run_dir = str(tmp_path / "run")
    with pytest.raises(PoolUnreachableError) as caught:
        executor.start()
    assert "does not switch to the local pool on its own" in str(caught.value)
    assert str(caught.value).endswith(ASK_FOR_LOCAL)
    assert executor.pool is None and not (tmp_path / "state").exists()
