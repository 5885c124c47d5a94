"""pack=True through the executor on the local pool: the app runs from the packed interpreter."""

import sys

from condorexec import CondorExecutor


def test_app_runs_from_the_packed_environment(tmp_path):
    def _where():  # nested, so cloudpickle ships it by value (this test module is not on the node)
        import sys

        import jinja2

        return sys.executable, jinja2.__file__

    executor = CondorExecutor(label="packed", pool="local", nodes=["cpus=2,memory=2000"], mode="per_call",
                              state_dir=str(tmp_path / "state"), pack=True)
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        futures = [executor.submit(_where, {"memory": 300}) for _ in range(2)]
        results = [f.result(timeout=180) for f in futures]
        [ad] = {ad["ClusterId"]: ad for ad in executor.pool.history()}.values()
    finally:
        executor.shutdown()
    for python, jinja in results:
        assert python != sys.executable and "/packs/" in python  # not this interpreter: the node's unpacked copy
        assert jinja.startswith(python.rsplit("/bin/", 1)[0])  # and its libraries come from the pack too
    assert ".tar" in ad["TransferInput"]  # the archive travelled by file transfer
    assert "CondorexecFastLaunch" not in ad  # a packed app's wrapper is exec'd, never forked warm


def test_a_category_worker_runs_its_calls_in_the_packed_environment(tmp_path):
    def _where():
        import sys

        import jinja2

        return sys.executable, jinja2.__file__

    executor = CondorExecutor(label="packedw", pool="local", nodes=["cpus=2,memory=2000"], mode="workers",
                              state_dir=str(tmp_path / "state"), pack=True, worker_idle_timeout=2)
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        results = [f.result(timeout=180) for f in [executor.submit(_where, {"memory": 300}) for _ in range(3)]]
        assert executor.fleet.stats["worker_calls"] == 3 and executor.stats["jobs"] == 0
        workers = executor.pool.query("CondorexecWorker =!= undefined", ["TransferInput"]) or list(
            executor.pool.history("CondorexecWorker =!= undefined", ["TransferInput"]))
    finally:
        executor.shutdown()
    for python, jinja in results:
        assert python != sys.executable and "/packs/" in python
        assert jinja.startswith(python.rsplit("/bin/", 1)[0])
    assert workers and all(".tar" in str(ad["TransferInput"]) for ad in workers)
