"""CondorPool and choose_pool without daemons.

A recording fake replaces only the binding seam (CondorBindings), so every decision CondorPool makes
(validation, the exact arguments handed to htcondor2, unit conversion, error wrapping) is checked
here; tests/condor proves the seam itself against a live schedd.
"""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections.abc import Iterator
from types import MappingProxyType

import classad2
import htcondor2
import pytest

from condorexec.pools import select
from condorexec.pools.base import Machine, PoolProfile, SubmitResult
from condorexec.pools.condor import (
    MACHINE_PROJECTION,
    CondorBindings,
    CondorPool,
    CondorPoolError,
    parse_condor_version,
)
from condorexec.pools.local import LocalPool

VERSION = "$CondorVersion: 25.14.0 2026-11-26 PRE-RELEASE-UWCS $"


class FakeSubmitResult:
    """What htcondor2.Schedd.submit returns, reduced to the accessors CondorPool reads."""

    def __init__(self, cluster: int, first_proc: int, num_procs: int):
        self._c, self._p, self._n = cluster, first_proc, num_procs

    def cluster(self) -> int:
        return self._c

    def first_proc(self) -> int:
        return self._p

    def num_procs(self) -> int:
        return self._n


class RecordingBindings:
    """Stands in for CondorBindings: records each call with its exact arguments."""

    def __init__(self, startd_ads=(), history_ads=(), query_ads=(), version=VERSION, fail=None):
        self.calls: list[tuple] = []
        self.location = classad2.ClassAd({"Name": "alice@submit.example", "MyAddress": "<10.0.0.1:9618>",
                                          "CondorVersion": version})
        self._startd_ads, self._history_ads, self._query_ads = list(startd_ads), history_ads, query_ads
        self._fail = fail
        self._next_cluster = 41

    def _record(self, *call):
        self.calls.append(call)
        if self._fail is not None:
            raise self._fail

    def ping(self) -> None:
        self._record("ping")

    def submit(self, description, count, itemdata):
        was_iterator = isinstance(itemdata, Iterator)
        rows = None if itemdata is None else list(itemdata)
        self._record("submit", description, count, rows, was_iterator)
        self._next_cluster += 1
        n = len(rows) * max(count, 1) if rows is not None else max(count, 1)
        return FakeSubmitResult(self._next_cluster, 0, n)

    def submit_spooled(self, description, count, itemdata):
        result = self.submit(description, count, itemdata)
        self.calls[-1] = ("submit_spooled", *self.calls[-1][1:])
        return result

    def spool(self, result):
        self._record("spool", result.cluster())

    def retrieve(self, job_spec):
        self._record("retrieve", job_spec)

    def query(self, constraint, projection):
        self._record("query", constraint, projection)
        return list(self._query_ads)

    def history(self, constraint, projection, match, since):
        self._record("history", constraint, projection, match, since)
        return list(self._history_ads)

    def act(self, action, job_spec):
        self._record("act", action, job_spec)
        return classad2.ClassAd({"TotalSuccess": 1})

    def edit(self, job_spec, attr, value):
        self._record("edit", job_spec, attr, value)
        return 1

    def startd_ads(self, constraint, projection):
        self._record("startd_ads", constraint, projection)
        return self._startd_ads

    def query_with_cluster_ads(self, constraint, projection):
        self._record("query_with_cluster_ads", constraint, projection)
        return list(self._query_ads)

    def relocate(self):
        self._record("relocate")


def make_pool(**kw) -> tuple[CondorPool, RecordingBindings]:
    fake = RecordingBindings(**kw)
    return CondorPool(bindings=fake), fake


def description() -> htcondor2.Submit:
    return htcondor2.Submit({"executable": "/bin/echo", "arguments": "$(word)", "request_memory": "$(mem)"})


# -- the fake is faithful to the seam -------------------------------------------------------------

def test_fake_has_the_seams_methods_and_signatures():
    public = {n for n, _ in inspect.getmembers(CondorBindings, inspect.isfunction) if not n.startswith("_")}
    assert public == {"ping", "submit", "submit_spooled", "spool", "retrieve", "query", "history", "act", "edit",
                      "startd_ads", "query_with_cluster_ads", "relocate"}
    for name in public:
        real = list(inspect.signature(getattr(CondorBindings, name)).parameters)
        fake = list(inspect.signature(getattr(RecordingBindings, name)).parameters)
        assert real == fake, name


class RecordingSchedd:
    """Records how the seam calls htcondor2.Schedd (keyword arguments included)."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return []
        return method


def seam_with_recording_schedd() -> tuple[CondorBindings, RecordingSchedd, RecordingSchedd]:
    seam = object.__new__(CondorBindings)  # skip locating a schedd: only the forwarding is under test
    seam.schedd, seam.collector = RecordingSchedd(), RecordingSchedd()
    return seam, seam.schedd, seam.collector


def test_seam_forwards_with_the_documented_htcondor2_signatures():
    seam, schedd, collector = seam_with_recording_schedd()
    sub, rows = description(), iter([{"word": "a"}])
    seam.submit(sub, 0, None)
    seam.submit(sub, 2, rows)
    seam.query("Owner == \"x\"", ["ClusterId"])
    seam.history("true", ["ClusterId"], 5, 17)
    seam.act(htcondor2.JobAction.Hold, ["1.0"])
    seam.edit("1.0", "RequestMemory", "512")
    seam.ping()
    seam.startd_ads("PartitionableSlot", ["Machine"])
    assert schedd.calls == [
        ("submit", (sub,), {"count": 0}),  # no itemdata keyword: the description's queue statement rules
        ("submit", (sub,), {"count": 2, "itemdata": rows}),
        ("query", ('Owner == "x"', ["ClusterId"]), {}),
        ("history", ("true", ["ClusterId"], 5, 17), {}),
        ("act", (htcondor2.JobAction.Hold, ["1.0"]), {}),
        ("edit", ("1.0", "RequestMemory", "512"), {}),
        ("query", ("false", ["ClusterId"]), {"limit": 1}),
    ]
    assert collector.calls == [
        ("query", (htcondor2.AdTypes.Startd,),
         {"constraint": "PartitionableSlot", "projection": ["Machine"]}),
    ]


# -- submit ---------------------------------------------------------------------------------------

def test_submit_many_rows_is_one_call_with_an_iterator_of_plain_dicts():
    pool, fake = make_pool()
    sub = description()
    rows = [{"word": "a", "mem": "64MB"}, MappingProxyType({"word": "b", "mem": "128MB"}),
            {"mem": "1GB", "word": "c"}]
    tags = []
    submit = fake.submit
    fake.submit = lambda d, c, i: (tags.append(d["MY.CondorexecSubmitId"]), submit(d, c, i))[1]
    result = pool.submit(sub, itemdata=rows)
    assert result == SubmitResult(cluster=42, first_proc=0, num_procs=3)
    assert result.job_ids() == ["42.0", "42.1", "42.2"]
    [(name, got_sub, count, got_rows, was_iterator)] = fake.calls
    assert (name, got_sub, count, was_iterator) == ("submit", sub, 0, True)
    [tag] = tags  # each submit's own id while it is submitted, for a retry to find it by
    assert len(tag) == 34 and tag.startswith('"') and tag.endswith('"')
    assert sub["MY.CondorexecSubmitId"] == ""  # afterwards: not this submit's id (keys cannot be removed)
    assert got_rows == [{"word": "a", "mem": "64MB"}, {"word": "b", "mem": "128MB"},
                        {"mem": "1GB", "word": "c"}]
    assert all(type(r) is dict for r in got_rows)  # htcondor2 checks isinstance(row, dict)


def test_submit_count_with_rows_and_without():
    pool, fake = make_pool()
    assert pool.submit(description(), itemdata=[{"word": "a", "mem": "1"}], count=3).num_procs == 3
    assert pool.submit(htcondor2.Submit("executable = /bin/true\nqueue 4"), count=0).cluster == 43
    assert [c[2:4] for c in fake.calls] == [(3, [{"word": "a", "mem": "1"}]), (0, None)]


@pytest.mark.parametrize("rows, message", [
    ([], "itemdata is empty"),
    ([{"word": "a", "mem": "1"}, {"word": "b"}], r"itemdata\[1\] has keys"),
    ([{"word": "a", "mem": "1"}, {"word": "b", "mem": "1", "extra": "x"}], r"itemdata\[1\] has keys"),
    ([{"word": 3, "mem": "1"}], r"itemdata\[0\]\['word'\] must be a str, got 3"),
    ([{"word": "a\nqueue", "mem": "1"}], "contains a newline"),
    ([{"word": "a", "mem": "1"}, {"word": "# not a comment", "mem": "1"}], r"itemdata\[1\]\['word'\].*comment"),
    ([{"word": ") the end", "mem": "1"}], "end of the item list"),
    ([{"bad key": "a"}], "not a submit variable name"),
    ([{}], "has no variables"),
    (["word=a"], r"itemdata\[0\] must be a mapping"),
    ({"word": "a"}, "must be a sequence of mappings"),
])
def test_submit_rejects_bad_rows_before_calling_htcondor(rows, message):
    pool, fake = make_pool()
    with pytest.raises(ValueError, match=message):
        pool.submit(description(), itemdata=rows)
    assert fake.calls == []


def test_submit_rejects_a_non_submit_description_and_a_bad_count():
    pool, fake = make_pool()
    with pytest.raises(TypeError, match="htcondor2.Submit, not dict"):
        pool.submit({"executable": "/bin/true"})
    with pytest.raises(ValueError, match="count must be a non-negative int, got -1"):
        pool.submit(description(), count=-1)
    assert fake.calls == []


# -- query / history ------------------------------------------------------------------------------

def test_query_passes_constraint_and_projection_exactly():
    ads = [classad2.ClassAd({"ClusterId": 7, "ProcId": 0})]
    pool, fake = make_pool(query_ads=ads)
    got = pool.query('JobBatchName == "align" && JobStatus == 5', ("ClusterId", "HoldReasonCode"))
    assert [dict(a) for a in got] == [{"ClusterId": 7, "ProcId": 0}]
    assert fake.calls == [("query", 'JobBatchName == "align" && JobStatus == 5',
                           ["ClusterId", "HoldReasonCode"])]
    pool.query()
    assert fake.calls[-1] == ("query", "true", [])


@pytest.mark.parametrize("constraint", ["ClusterId ==", "", "((", 5])
def test_query_rejects_a_constraint_that_is_not_an_expression(constraint):
    pool, fake = make_pool()
    with pytest.raises(ValueError, match="constraint"):
        pool.query(constraint)
    assert fake.calls == []


def test_query_rejects_a_string_projection():
    pool, _ = make_pool()
    with pytest.raises(ValueError, match="projection must be a list"):
        pool.query("true", "ClusterId")


@pytest.mark.parametrize("since, sent", [
    (None, None),
    (12, 12),
    ("12", 12),                 # a bare number is a ClusterId (htcondor2 would take it as an expression)
    ("12.3", "12.3"),
    ("CompletionDate <= 1700000000", "CompletionDate <= 1700000000"),
])
def test_history_since_forms(since, sent):
    ads = [classad2.ClassAd({"ClusterId": 13, "ProcId": 0})]
    pool, fake = make_pool(history_ads=ads)
    got = pool.history("JobStatus == 4", ["ClusterId", "MemoryUsage"], 10, since)
    assert isinstance(got, Iterator)
    assert [a["ClusterId"] for a in got] == [13]
    assert fake.calls == [("history", "JobStatus == 4", ["ClusterId", "MemoryUsage"], 10, sent)]


@pytest.mark.parametrize("since", [True, 1.5, -1, "CompletionDate <=", ["1.0"]])
def test_history_rejects_a_bad_since(since):
    pool, fake = make_pool()
    with pytest.raises(ValueError, match="since"):
        pool.history(since=since)
    assert fake.calls == []


# -- act / edit -----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, sent", [
    (["3.0", "3.1"], ["3.0", "3.1"]),
    (("3.2",), ["3.2"]),
    ("3.0", "3.0"),
    (" 3 ", "3"),
    ('condorexec_test == "abc"', 'condorexec_test == "abc"'),
])
@pytest.mark.parametrize("action", [htcondor2.JobAction.Hold, htcondor2.JobAction.Release,
                                    htcondor2.JobAction.Remove])
def test_act_sends_the_action_and_the_job_spec(action, spec, sent):
    pool, fake = make_pool()
    pool.act(action, spec)
    assert fake.calls == [("act", action, sent)]


@pytest.mark.parametrize("spec, message", [
    ([], "empty list"),
    (["3.x"], "not a 'ClusterId.ProcId' job id"),
    ([3], "not a 'ClusterId.ProcId' job id"),
    ("JobStatus ==", "job_spec"),
])
def test_act_rejects_bad_job_specs(spec, message):
    pool, fake = make_pool()
    with pytest.raises(ValueError, match=message):
        pool.act(htcondor2.JobAction.Remove, spec)
    with pytest.raises(ValueError, match="JobAction"):
        pool.act("Remove", ["1.0"])
    assert fake.calls == []


def test_edit_sends_attr_and_expression():
    pool, fake = make_pool()
    pool.edit(["5.0", "5.1"], "RequestMemory", "512")
    pool.edit("5.0", "JobBatchName", '"rerun"')
    assert fake.calls == [("edit", ["5.0", "5.1"], "RequestMemory", "512"),
                          ("edit", "5.0", "JobBatchName", '"rerun"')]
    with pytest.raises(ValueError, match="attr must be"):
        pool.edit("5.0", "Request Memory", "1")
    with pytest.raises(ValueError, match="value"):
        pool.edit("5.0", "RequestMemory", "512 +")
    assert len(fake.calls) == 2


# -- machines and version -------------------------------------------------------------------------

def startd(machine, name, cpus, memory, disk_kib, gpus=None):
    ad = {"Machine": machine, "Name": name, "TotalSlotCpus": cpus, "TotalSlotMemory": memory,
          "TotalSlotDisk": disk_kib}
    if gpus is not None:
        ad["TotalSlotGPUs"] = gpus
    return classad2.ClassAd(ad)


def test_describe_machines_converts_and_orders():
    ads = [
        startd("small.example", "slot1@small.example", 2, 4096, 10 * 1024 * 1024 + 700),
        startd("big.example", "slot1@big.example", 64, 256000, 83121256.0, gpus=4),
        startd("split.example", "slot1@split.example", 1, 1024, 2048),
        startd("split.example", "slot2@split.example", 1, 8192, 4096),
    ]
    pool, fake = make_pool(startd_ads=ads)
    machines = pool.describe_machines()
    assert fake.calls == [("startd_ads", "PartitionableSlot", MACHINE_PROJECTION)]
    assert MACHINE_PROJECTION == ["Machine", "Name", "TotalSlotCpus", "TotalSlotMemory", "TotalSlotDisk",
                                  "TotalSlotGPUs"]
    assert machines == [
        Machine("big.example", 64, 256000, 81173, 4),           # 83121256 KiB -> 81173 MiB
        Machine("slot2@split.example", 1, 8192, 4, 0),          # two p-slots on one host: one node each
        Machine("small.example", 2, 4096, 10240, 0),            # missing TotalSlotGPUs -> 0
        Machine("slot1@split.example", 1, 1024, 2, 0),
    ]
    assert pool.largest_machine().name == "big.example"


def test_describe_machines_with_no_slots_is_empty_and_largest_machine_says_why():
    pool, _ = make_pool(startd_ads=[])
    assert pool.describe_machines() == []
    with pytest.raises(RuntimeError, match="condor pool reports no execute machines"):
        pool.largest_machine()


@pytest.mark.parametrize("version, numbers, retry", [
    (VERSION, (25, 14, 0), True),
    ("$CondorVersion: 25.2.1 2025-06-01 BuildID: 1 $", (25, 2, 1), True),
    ("$CondorVersion: 25.2.0 2025-05-01 BuildID: 1 $", (25, 2, 0), False),
    ("$CondorVersion: 24.0.12 2025-09-01 BuildID: 1 $", (24, 0, 12), False),
    ("", (0, 0, 0), False),
])
def test_condor_version(version, numbers, retry):
    pool, _ = make_pool(version=version)
    assert pool.condor_version() == version
    assert pool.version_tuple() == numbers == parse_condor_version(version)
    assert pool.supports_retry_request_memory() is retry


# -- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, run", [
    ("query", lambda p: p.query("true")),
    ("history", lambda p: list(p.history())),
    ("submit", lambda p: p.submit(description(), itemdata=[{"word": "a", "mem": "1"}])),
    ("act(Hold)", lambda p: p.act(htcondor2.JobAction.Hold, ["1.0"])),
    ("edit(RequestMemory)", lambda p: p.edit("1.0", "RequestMemory", "1")),
    ("Collector.query(Startd)", lambda p: p.describe_machines()),
])
def test_binding_errors_become_condor_pool_errors_naming_call_and_schedd(call, run):
    cause = htcondor2.HTCondorException("Failed to connect to schedd")
    pool = CondorPool(bindings=RecordingBindings(fail=cause), retry_seconds=0)  # retries: tests/faults
    with pytest.raises(CondorPoolError) as info:
        run(pool)
    err = info.value
    assert str(err) == (f"HTCondor {call} failed (schedd alice@submit.example at <10.0.0.1:9618>): "
                        "HTCondorException: Failed to connect to schedd")
    assert err.__cause__ is cause and err.call == call


def test_constructor_reports_an_unreachable_collector():
    start = time.monotonic()
    with pytest.raises(CondorPoolError, match=r"locate schedd failed \(schedd nobody@nowhere via "
                                              r"collector 127\.0\.0\.1:1\)"):
        CondorPool(schedd="nobody@nowhere", collector="127.0.0.1:1")
    assert time.monotonic() - start < 30  # a refused connection, not a timeout


# -- the profile --------------------------------------------------------------------------------

def test_profile_says_what_a_schedd_can_do():
    pool, fake = make_pool()
    assert pool.profile == PoolProfile(name="condor", event_poll_interval=1.0, history_poll_interval=10.0,
                                       history_source="condor:alice@submit.example", fast_launch=False,
                                       in_process=False, tune_switch_interval=False,
                                       worker_mailbox="chirp", job_start_seconds=1.0)
    assert fake.calls == []  # the location ad the seam already holds: no daemon is asked
    assert pool.where == "Schedd: alice@submit.example at <10.0.0.1:9618>"
    assert pool.prepare(description()) == ([], [])  # a schedd takes whatever condor_submit would


def test_history_source_comes_from_the_schedd_not_from_how_it_was_named():
    """The executor used to name the cursor condor:condor and the CLI condor:default (or the -name
    argument): two cursors, and samples read twice, for one schedd's history."""
    by_default = CondorPool(bindings=RecordingBindings())
    by_name = CondorPool(schedd="alice@submit.example", collector="cm.example", bindings=RecordingBindings())
    by_alias = CondorPool(schedd="submit.example", bindings=RecordingBindings())
    assert {p.profile.history_source for p in (by_default, by_name, by_alias)} == {"condor:alice@submit.example"}
    nameless = RecordingBindings()
    nameless.location = classad2.ClassAd({"MyAddress": "<10.0.0.2:9618>"})
    assert CondorPool(bindings=nameless).profile.history_source == "condor:<10.0.0.2:9618>"


# -- choose_pool ----------------------------------------------------------------------------------

@pytest.fixture
def no_config(monkeypatch, tmp_path):
    monkeypatch.setenv("CONDOR_CONFIG", "/dev/null")
    monkeypatch.setattr(select, "CONFIG_LOCATIONS", (str(tmp_path / "missing" / "condor_config"),))


@pytest.fixture
def silent_collector():
    """A TCP server that accepts connections and never answers: a hung daemon."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for s in accepted:
        s.close()
    server.close()


def local_options(tmp_path):
    return {"state_dir": tmp_path / "state"}


def test_choose_pool_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="pool kind must be one of auto, local, condor; got 'slurm'"):
        select.choose_pool("slurm")


@pytest.mark.parametrize("kind, options, message", [
    ("local", {"schedd": "x@y"}, "pool kind 'local' takes no HTCondor options"),
    ("condor", {"state_dir": "/tmp/x"}, "pool kind 'condor' takes only schedd, collector"),
    ("auto", {"probe_timeout": 0}, "probe_timeout must be a positive number of seconds, got 0"),
])
def test_choose_pool_rejects_options_for_the_other_kind(kind, options, message):
    with pytest.raises(ValueError, match=message):
        select.choose_pool(kind, **options)


def test_condor_config_source(monkeypatch, no_config, tmp_path):
    assert select.condor_config_source() is None  # /dev/null is what htcondor2 sets when there is none
    monkeypatch.delenv("CONDOR_CONFIG")
    assert select.condor_config_source() is None
    present = tmp_path / "etc_condor_config"
    present.write_text("")
    monkeypatch.setattr(select, "CONFIG_LOCATIONS", (str(present),))
    assert select.condor_config_source() == str(present)
    monkeypatch.setenv("CONDOR_CONFIG", "/some/where/condor_config")
    assert select.condor_config_source() == "/some/where/condor_config"


def test_auto_without_configuration_uses_the_local_pool(no_config, tmp_path):
    pool, reason = select.choose_pool("auto", schedd=None, **local_options(tmp_path))
    try:
        assert isinstance(pool, LocalPool)
        assert reason == ("auto: no HTCondor configuration (CONDOR_CONFIG unset and "
                          "/etc/condor/condor_config missing), using the embedded local pool")
    finally:
        pool.close()


def test_auto_with_a_configured_but_dead_pool_refuses_instead_of_running_locally(dead_pool_config, tmp_path):
    """The login-node case: HTCondor is configured, its schedd does not answer. Running every call on
    this machine instead would be a silent surprise; the error says what failed and how to ask for it."""
    start = time.monotonic()
    with pytest.raises(select.PoolUnreachableError) as caught:
        select.choose_pool(**local_options(tmp_path))
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert message.startswith("HTCondor probe failed (schedd (local)): the schedd did not answer: HTCondorException: ")
    assert f"HTCondor configured at {dead_pool_config}" in message
    assert "does not switch to the local pool on its own" in message
    assert message.endswith(select.ASK_FOR_LOCAL) and 'pool="local"' in message and "-backend local" in message
    assert not (tmp_path / "state").exists()  # no local pool was started
    assert elapsed < 30, elapsed


def test_auto_with_a_hung_collector_is_cut_off_at_the_timeout(dead_pool_config, silent_collector, tmp_path):
    start = time.monotonic()
    with pytest.raises(select.PoolUnreachableError,
                       match=r"did not answer: no answer after 0\.5s \(probe killed\)\. pool 'auto' means "
                             rf"HTCondor here \(-pool {silent_collector}\)"):
        select.choose_pool("auto", collector=silent_collector, probe_timeout=0.5, **local_options(tmp_path))
    assert time.monotonic() - start < 30  # HTCondor's own QUERY_TIMEOUT would be 60 s


def test_condor_kind_fails_clearly_when_no_schedd_answers(dead_pool_config):
    with pytest.raises(CondorPoolError, match=r"HTCondor probe failed \(schedd \(local\)\): the schedd did not "
                                              r"answer: HTCondorException: .*To run on this machine instead"):
        select.choose_pool("condor")


def test_a_named_schedd_with_a_broken_configuration_says_what_is_broken(monkeypatch, tmp_path):
    """``-name X`` where CONDOR_CONFIG names a missing file: the message carries HTCondor's own diagnosis,
    not a timeout it never hit."""
    missing = tmp_path / "nowhere" / "condor_config"
    monkeypatch.setenv("CONDOR_CONFIG", str(missing))
    with pytest.raises(CondorPoolError) as caught:
        select.choose_pool("condor", schedd="X")
    message = str(caught.value)
    assert "HTCondor probe failed (schedd X)" in message and "within" not in message
    assert f'HTCondor said: File specified in CONDOR_CONFIG environment variable: "{missing}" does not exist' in message


def test_local_kind_builds_the_local_pool(tmp_path):
    pool, reason = select.choose_pool("local", **local_options(tmp_path))
    try:
        assert isinstance(pool, LocalPool) and reason == "local: the embedded local pool, as asked"
    finally:
        pool.close()


def test_nice_user_gets_the_accounting_user_condor_submit_would_give():
    import getpass

    from condorexec.pools.condor import _with_accounting_user

    plain = htcondor2.Submit("executable = /bin/true\nqueue")
    assert _with_accounting_user(plain) is plain  # nothing to fill in
    nice = _with_accounting_user(htcondor2.Submit("executable = /bin/true\nnice_user = true\nqueue x in (a, b)"))
    assert nice["accounting_group_user"] == getpass.getuser()
    assert nice.getQArgs() == "x in (a, b)"  # the queue statement survives the copy
    given = htcondor2.Submit("executable = /bin/true\naccounting_group = g\naccounting_group_user = ann\nqueue")
    assert _with_accounting_user(given)["accounting_group_user"] == "ann"
