"""The pool seam's own vocabulary: Machine and NodeSpec sizes as Resources, "the largest machine"."""

from __future__ import annotations

import pytest

from condorexec.pools.base import Machine, largest
from condorexec.pools.local import NodeSpec
from condorexec.resources import Resources


def test_machine_sizes_are_the_one_vocabulary() -> None:
    m = Machine("n1", cores=4, memory=8000, disk=20000, gpus=1)
    assert m.resources == Resources(cores=4, memory=8000, disk=20000, gpus=1)
    assert Resources(2, 4000, 100).fits_in(m.resources)


def test_largest_orders_by_memory_then_cores_then_disk() -> None:
    machines = [Machine("cores", 64, 4000, 900000), Machine("mem", 2, 8000, 10),
                Machine("mem-more-cores", 4, 8000, 5), Machine("mem-more-cores-disk", 4, 8000, 6)]
    assert largest(machines, "test").name == "mem-more-cores-disk"
    assert max(m.resources.ordering_key() for m in machines) == largest(machines, "test").resources.ordering_key()
    with pytest.raises(RuntimeError, match="the test pool reports no execute machines"):
        largest([], "test")


def test_node_spec_text_is_what_users_type() -> None:
    node = NodeSpec.parse("cpus=6,memory=6000,name=big")
    assert isinstance(node, Machine)
    assert (node.name, node.cores, node.memory, node.disk, node.gpus) == ("big", 6, 6000, 100_000, 0)
    assert NodeSpec.parse("cpus=1,memory=500,disk=7,gpus=2", 2).resources == Resources(1, 500, 7, 2)
    assert NodeSpec.parse("cpus=1,memory=500", 2).name == "node3"
    with pytest.raises(ValueError, match="unknown keys"):
        NodeSpec.parse("cores=1,memory=500")
    with pytest.raises(ValueError, match="sizes must be positive"):
        NodeSpec.parse("cpus=0,memory=500")


def test_the_htcondor_numbers_the_pools_and_cli_use_are_htcondors() -> None:
    from condorexec.cli.adformat import STATUS_LETTER
    from condorexec.condorfacts import JobStatus, Universe

    assert int(Universe.VANILLA) == 5 and int(Universe.SCHEDULER) == 7 and int(Universe.LOCAL) == 12
    assert [STATUS_LETTER[s] for s in (1, 2, 3, 4, 5, 6, 7)] == ["I", "R", "X", "C", "H", ">", "S"]
    assert set(STATUS_LETTER) == set(JobStatus)


def test_local_profile_and_spool_layout(tmp_path, monkeypatch) -> None:
    import dataclasses

    from condorexec.pools.base import PoolProfile
    from condorexec.pools.local import LocalPool, local_machines
    from condorexec.pools.local.spool import SpoolLayout

    monkeypatch.chdir(tmp_path)
    pool = LocalPool(["cpus=2,memory=2000,name=a", "cpus=4,memory=1000,name=b"], state_dir="rel")
    try:
        layout = SpoolLayout(tmp_path / "rel")
        history = tmp_path / "rel" / "localpool" / "spool" / "history"
        assert pool.profile == PoolProfile(name="local", event_poll_interval=0.05, history_poll_interval=1.0,
                                           history_source=f"local:{history}", fast_launch=True, in_process=True,
                                           tune_switch_interval=True, worker_mailbox="filesystem",
                                           job_start_seconds=0.025, usage_report_seconds=0.5)
        assert pool.profile.history_source == f"local:{layout.history}"  # absolute: not the cwd's
        assert all(p.is_dir() for p in (layout.execute, layout.nodes, layout.spool))
        with pytest.raises(dataclasses.FrozenInstanceError):
            pool.profile.name = "condor"  # type: ignore[misc]
        assert pool.describe_machines() == local_machines(["cpus=2,memory=2000,name=a", "cpus=4,memory=1000,name=b"])
        assert [m.name for m in pool.describe_machines()] == ["a", "b"]
        assert pool.where == f"Local pool: {tmp_path / 'rel'}"
    finally:
        pool.close()


def test_local_pool_prepare_refuses_what_it_cannot_run_and_adds_a_log(tmp_path) -> None:
    import htcondor2

    from condorexec.pools.local import LocalPool

    pool = LocalPool(["cpus=1,memory=500"], state_dir=tmp_path)
    try:
        too_big = htcondor2.Submit({"executable": "/bin/true", "request_memory": "4000MB", "rank": "Memory"})
        errors, warnings = pool.prepare(too_big, tmp_path)
        assert len(errors) == 1 and "no local node is that big" in errors[0]
        assert warnings == ["rank = Memory: ignored on the local pool"]
        assert "log" not in too_big.keys()
        fits = htcondor2.Submit({"executable": "/bin/true", "request_memory": "100MB"})
        assert pool.prepare(fits, tmp_path) == ([], [])
        assert fits["log"].startswith(str(tmp_path / "localpool" / "spool" / "logs" / "submit."))
        own = htcondor2.Submit({"executable": "/bin/true", "log": "mine.log"})
        pool.prepare(own, tmp_path)
        assert own["log"] == "mine.log"
    finally:
        pool.close()
