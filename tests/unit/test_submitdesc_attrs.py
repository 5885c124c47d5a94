"""The attribute groups of condorexec.submit.jobad._job_attrs, each tested on the ClassAd text it returns.

Every group is a function of the expanded submit commands (here a dict's ``get``: None for an absent
command) and of what earlier groups decided; the ground truth for the values is condor_submit -dry-run
(tests/unit/test_submitdesc.py compares whole ads with it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from condorexec import condorfacts
from condorexec.submit import SubmitDescriptionError
from condorexec.submit import jobad as sd
from condorexec.submit.factory import Factory, factory_of


def cmds(**commands: str):
    """A getter over submit commands given as keyword arguments."""
    return dict(commands).get


NONE = cmds()


# --------------------------------------------------------------------------------------------------
# universe, Iwd, executable


def test_universe_defaults_to_vanilla_without_kill_signal() -> None:
    assert sd._universe_attrs(NONE) == {"JobUniverse": "5", "JobLeaseDuration": "2400"}


@pytest.mark.parametrize(("universe", "number"), [("local", "12"), ("Scheduler", "7")])
def test_access_point_universes_get_sigterm_and_no_lease(universe: str, number: str) -> None:
    assert sd._universe_attrs(cmds(universe=universe)) == {"JobUniverse": number, "KillSig": '"SIGTERM"'}


def test_container_universes_are_vanilla() -> None:
    assert sd._universe_attrs(cmds(universe="docker")) == {"JobUniverse": "5", "JobLeaseDuration": "2400"}
    assert sd._universe_attrs(cmds(universe=" container ", container_image="docker://debian:12")) == {
        "JobUniverse": "5", "JobLeaseDuration": "2400", "WantContainer": "true",
        "ContainerImage": '"docker://debian:12"', "ContainerImageSource": '"docker"', "WantDockerImage": "true"}


def test_a_container_job_needs_an_image_condorexec_can_reproduce() -> None:
    with pytest.raises(SubmitDescriptionError, match="container jobs require a container_image"):
        sd._universe_attrs(cmds(universe="container"))
    with pytest.raises(SubmitDescriptionError, match=r"container_image = oras://x: condorexec takes a docker://"):
        sd._universe_attrs(cmds(universe="container", container_image="oras://x"))


def test_unknown_universe_is_refused_with_the_choices() -> None:
    with pytest.raises(SubmitDescriptionError, match=r"universe = standard: unknown universe \(one of container"):
        sd._universe_attrs(cmds(universe="standard"))


def test_initial_dir_defaults_to_the_submit_dir_and_resolves_against_it(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    assert sd._initial_dir(NONE, f"{tmp_path}//") == f"{tmp_path}/"
    assert sd._initial_dir(cmds(initialdir="w"), str(tmp_path)) == f"{tmp_path}/w"
    assert sd._initial_dir(cmds(iwd="w"), str(tmp_path)) == f"{tmp_path}/w"
    assert sd._initial_dir(cmds(initialdir="/tmp"), str(tmp_path)) == "/tmp"
    with pytest.raises(SubmitDescriptionError, match=rf"initialdir = nope: no such directory: {tmp_path}/nope"):
        sd._initial_dir(cmds(initialdir="nope"), str(tmp_path))


def test_executable_resolves_against_submit_dir_and_its_size_is_whole_kib(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_bytes(b"x" * 2049)
    attrs = sd._executable_attrs(cmds(executable="run.sh"), str(tmp_path))
    assert attrs == {"Cmd": f'"{tmp_path}/run.sh"', "ExecutableSize": "3"}


def test_untransferred_executable_is_copied_unchecked_with_size_zero(tmp_path: Path) -> None:
    attrs = sd._executable_attrs(cmds(executable="/opt/no/such", transfer_executable="false"), str(tmp_path))
    assert attrs == {"Cmd": '"/opt/no/such"', "TransferExecutable": "false", "ExecutableSize": "0"}


@pytest.mark.parametrize(("commands", "message"), [
    ({}, "no executable given"),
    ({"executable": "missing.sh"}, "executable = missing.sh: no such file"),
    ({"executable": "/bin/true", "shell": "echo hi"}, "shell = ... is not supported"),
    ({"executable": "/bin/true", "transfer_executable": "sometimes"}, "transfer_executable = sometimes"),
])
def test_executable_refusals(tmp_path: Path, commands: dict[str, str], message: str) -> None:
    with pytest.raises(SubmitDescriptionError, match=message):
        sd._executable_attrs(commands.get, str(tmp_path))


# --------------------------------------------------------------------------------------------------
# arguments, environment, stdio, log


def test_v1_arguments_are_args_and_v2_arguments_are_arguments() -> None:
    assert sd._arguments_environment_attrs(cmds(arguments="a  b \\\"c\\\"")) == {
        "Args": '"a b \\"c\\""', "Environment": '""'}
    # condor's join_args quotes each blank on its own (what condor_submit -dry-run prints)
    assert sd._arguments_environment_attrs(cmds(arguments="\"one 'two three' ''\"")) == {
        "Arguments": "\"one two' 'three ''\"", "Environment": '""'}
    assert sd._arguments_environment_attrs(NONE) == {"Arguments": '""', "Environment": '""'}


def test_env_command_keeps_v1_and_environment_becomes_sorted_v2() -> None:
    assert sd._arguments_environment_attrs(cmds(env="B=2;A=1")) == {
        "Arguments": '""', "Env": '"A=1;B=2"', "EnvDelim": '";"'}
    assert sd._arguments_environment_attrs(cmds(environment="B=x y;A=1")) == {
        "Arguments": '""', "Environment": "\"A=1 B=x' 'y\""}


def test_stdio_defaults_to_untransferred_dev_null() -> None:
    assert sd._stdio_attrs(NONE) == {
        "In": '"/dev/null"', "TransferIn": "false", "Out": '"/dev/null"', "TransferOut": "false",
        "Err": '"/dev/null"', "TransferErr": "false"}


def test_stdio_files_stream_flags_and_explicit_transfer() -> None:
    attrs = sd._stdio_attrs(cmds(stdin="in.txt", output="o.txt", stream_output="true", transfer_output="true",
                                 error="e.txt", transfer_error="false"))
    assert attrs == {"In": '"in.txt"', "StreamIn": "false", "Out": '"o.txt"', "StreamOut": "true",
                     "TransferOut": "true", "Err": '"e.txt"', "TransferErr": "false"}


def test_user_log_is_relative_to_iwd() -> None:
    assert sd._user_log_attrs(cmds(log="job.log"), "/data/w") == {"UserLog": '"/data/w/job.log"'}
    assert sd._user_log_attrs(cmds(log="/var//log/j.log"), "/data/w") == {"UserLog": '"/var/log/j.log"'}
    assert sd._user_log_attrs(NONE, "/data/w") == {}


# --------------------------------------------------------------------------------------------------
# file transfer


def test_transfer_mode_defaults_and_normalises_case() -> None:
    assert sd._transfer_mode(NONE) == ("IF_NEEDED", "ON_EXIT")
    assert sd._transfer_mode(cmds(should_transfer_files="yes", when_to_transfer_output="on_success")) == (
        "YES", "ON_SUCCESS")


def test_on_exit_or_evict_turns_the_default_if_needed_into_yes() -> None:
    assert sd._transfer_mode(cmds(when_to_transfer_output="ON_EXIT_OR_EVICT")) == ("YES", "ON_EXIT_OR_EVICT")


@pytest.mark.parametrize(("commands", "message"), [
    ({"should_transfer_files": "maybe"}, "should_transfer_files = MAYBE: must be YES, NO or IF_NEEDED"),
    ({"when_to_transfer_output": "later"}, "when_to_transfer_output = later: must be ON_EXIT"),
    ({"should_transfer_files": "IF_NEEDED", "when_to_transfer_output": "ON_EXIT_OR_EVICT"}, "incompatible"),
    ({"should_transfer_files": "NO", "when_to_transfer_output": "ON_SUCCESS"}, "contradicts"),
])
def test_transfer_mode_refusals(commands: dict[str, str], message: str) -> None:
    with pytest.raises(SubmitDescriptionError, match=message):
        sd._transfer_mode(commands.get)


def test_transfer_lists_are_comma_joined_and_remaps_lose_their_quotes() -> None:
    get = cmds(transfer_output_files="a.out, b.out c.out", transfer_output_remaps='"a.out=x;b.out=y"')
    attrs = sd._transfer_attrs(get, "YES", "ON_EXIT", ["in/one.txt", "two.txt"], "example.org")
    assert attrs == {"ShouldTransferFiles": '"YES"', "WhenToTransferOutput": '"ON_EXIT"',
                     "TransferInput": '"in/one.txt,two.txt"', "TransferOutput": '"a.out,b.out,c.out"',
                     "TransferOutputRemaps": '"a.out=x;b.out=y"'}


def test_file_system_domain_only_when_transfer_is_not_certain() -> None:
    assert sd._transfer_attrs(NONE, "IF_NEEDED", "ON_EXIT", [], "example.org") == {
        "ShouldTransferFiles": '"IF_NEEDED"', "WhenToTransferOutput": '"ON_EXIT"',
        "FileSystemDomain": '"example.org"'}
    assert sd._transfer_attrs(NONE, "NO", "ON_EXIT", [], "example.org") == {
        "ShouldTransferFiles": '"NO"', "FileSystemDomain": '"example.org"'}


def test_transfer_sizes_count_executable_stdin_and_inputs_but_not_urls(tmp_path: Path) -> None:
    (tmp_path / "a.dat").write_bytes(b"a" * 3000)  # 3 KiB
    (tmp_path / "in.txt").write_bytes(b"i" * 5000)  # 5 KiB
    get = cmds(input="in.txt")
    attrs = sd._transfer_size_attrs(get, 2, ["a.dat", "https://example.org/big"], True, str(tmp_path))
    assert attrs == {"DiskUsage": "10", "TransferInputSizeMB": "1", "ImageSize": "2"}
    assert sd._transfer_size_attrs(get, 2, ["a.dat"], False, str(tmp_path))["DiskUsage"] == "5"


def test_transfer_size_is_whole_mib_rounded_up_and_image_size_in_kib(tmp_path: Path) -> None:
    attrs = sd._transfer_size_attrs(cmds(image_size="2M"), 1025, [], True, str(tmp_path))
    assert attrs == {"DiskUsage": "1025", "TransferInputSizeMB": "2", "ImageSize": "2048"}
    assert sd._transfer_size_attrs(cmds(image_size="300"), 0, [], True, str(tmp_path))["ImageSize"] == "300"


def test_missing_input_file_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(SubmitDescriptionError, match=rf"no such file: {tmp_path}/gone.txt"):
        sd._transfer_size_attrs(NONE, 0, ["gone.txt"], True, str(tmp_path))


# --------------------------------------------------------------------------------------------------
# resource requests


def test_request_defaults() -> None:
    assert sd._request_attrs(NONE) == {"RequestCpus": "1", "RequestMemory": "128",
                                       "RequestDisk": "MAX({ 1024,(TransferInputSizeMB + 1) * 1.25 }) * 1024"}


@pytest.mark.parametrize(("command", "value", "attr", "want"), [
    ("request_memory", "2G", "RequestMemory", "2048"),  # MiB
    ("request_memory", "1.5G", "RequestMemory", "1536"),
    ("request_memory", "100K", "RequestMemory", "1"),  # rounded up
    ("request_memory", "3000", "RequestMemory", "3000"),  # plain number: MiB
    ("request_disk", "500", "RequestDisk", "500"),  # plain number: KiB
    ("request_disk", "3G", "RequestDisk", "3145728"),
    ("request_disk", "10MB", "RequestDisk", "10240"),
    ("request_cpus", "4", "RequestCpus", "4"),
    ("request_memory", "1024 * 2", "RequestMemory", "1024 * 2"),  # an expression is copied
    ("request_cpus", "MY.Cores + 1", "RequestCpus", "MY.Cores + 1"),
])
def test_request_units(command: str, value: str, attr: str, want: str) -> None:
    assert sd._request_attrs(cmds(**{command: value}))[attr] == want


def test_request_gpus_only_when_asked_and_undefined_leaves_a_request_out() -> None:
    assert "RequestGPUs" not in sd._request_attrs(NONE)
    assert sd._request_attrs(cmds(request_gpus="2"))["RequestGPUs"] == "2"
    attrs = sd._request_attrs(cmds(request_memory="undefined", request_cpus="undefined", request_gpus="undefined"))
    assert set(attrs) == {"RequestDisk"}


@pytest.mark.parametrize(("command", "value", "message"), [
    ("request_memory", "lots", "not a size"),
    ("request_disk", "-1G", "cannot be negative"),
    ("request_cpus", "-2", "non-negative"),
    ("request_gpus", '"two"', "not a string"),
])
def test_request_refusals(command: str, value: str, message: str) -> None:
    with pytest.raises(SubmitDescriptionError, match=f"{command} = .*{message}"):
        sd._request_attrs(cmds(**{command: value}))


# --------------------------------------------------------------------------------------------------
# batch name, priority, accounting, notification


def test_batch_name_loses_its_quotes_and_priority_defaults_to_zero() -> None:
    assert sd._batch_attrs(cmds(batch_name='"nightly run"', priority=" 7 ")) == {
        "JobBatchName": '"nightly run"', "JobPrio": "7"}
    assert sd._batch_attrs(cmds(prio="-3")) == {"JobPrio": "-3"}
    assert sd._batch_attrs(NONE) == {"JobPrio": "0"}
    with pytest.raises(SubmitDescriptionError, match="priority = high is invalid, must be an integer"):
        sd._batch_attrs(cmds(priority="high"))


def test_nice_user_is_the_nice_user_accounting_group() -> None:
    assert sd._accounting_attrs(cmds(nice_user="true", accounting_group="ignored"), "alice") == {
        "AcctGroup": '"nice-user"', "AcctGroupUser": '"alice"', "AccountingGroup": '"nice-user.alice"',
        "MaxJobRetirementTime": "0"}


def test_accounting_group_user_defaults_to_the_owner() -> None:
    assert sd._accounting_attrs(cmds(accounting_group="physics"), "alice") == {
        "AcctGroup": '"physics"', "AcctGroupUser": '"alice"', "AccountingGroup": '"physics.alice"'}
    assert sd._accounting_attrs(cmds(accounting_group="physics", accounting_group_user="bob"), "alice")[
        "AccountingGroup"] == '"physics.bob"'
    assert sd._accounting_attrs(cmds(nice_user="false"), "alice") == {}


def test_notification_numbers_and_notify_user() -> None:
    assert sd._notification_attrs(NONE) == {"JobNotification": "0"}
    assert sd._notification_attrs(cmds(notification=" Error ", notify_user="me@example.org")) == {
        "JobNotification": "3", "NotifyUser": '"me@example.org"'}
    assert sd._notification_attrs(cmds(notification="always"))["JobNotification"] == "1"
    with pytest.raises(SubmitDescriptionError, match="notification = sometimes: must be one of never, always"):
        sd._notification_attrs(cmds(notification="sometimes"))


def test_description_and_concurrency_limits_are_escaped_strings() -> None:
    assert sd._description_attrs(cmds(description='say "hi"', concurrency_limits="lic:2")) == {
        "JobDescription": '"say \\"hi\\""', "ConcurrencyLimits": '"lic:2"'}


def test_materialize_limits_are_integers() -> None:
    # max_materialize goes to the schedd with the factory, not into the ad (condor_submit -dry-run)
    assert sd._materialize_attrs(cmds(max_idle="10", max_materialize=" 20")) == {"JobMaterializeMaxIdle": "10"}
    assert sd._materialize_attrs(cmds(materialize_max_idle="2 * 2")) == {"JobMaterializeMaxIdle": "2 * 2"}
    assert sd._materialize_attrs(cmds(max_idle_jobs="4")) == {}  # not a name condor_submit knows
    with pytest.raises(SubmitDescriptionError, match="max_idle=many is invalid, must eval to an integer"):
        sd._materialize_attrs(cmds(max_idle="many"))
    with pytest.raises(SubmitDescriptionError, match="max_materialize=undefined is invalid"):
        sd._materialize_attrs(cmds(max_materialize="undefined"))
    with pytest.raises(SubmitDescriptionError, match='max_idle="x" is invalid'):
        sd._materialize_attrs(cmds(max_idle='"x"'))


def test_factory_limit_is_the_one_the_schedd_stores() -> None:
    """condor_submit: MIN(max_materialize, procs), at least 1; <= 0 or absent with max_idle: every proc."""
    assert factory_of(cmds(), 10) is None
    assert factory_of(cmds(), 10, forced=True) == Factory(10, None, 10)
    assert factory_of(cmds(max_materialize="3"), 10) == Factory(3, None, 10)
    assert factory_of(cmds(max_materialize="30"), 10) == Factory(10, None, 10)
    assert factory_of(cmds(max_materialize="-3"), 10) == Factory(10, None, 10)
    assert factory_of(cmds(max_materialize="2+3"), 10) == Factory(5, None, 10)
    # EvalInteger, as condor_submit: a real is truncated, a boolean is 1 (checked with condor_submit -dry-run)
    assert factory_of(cmds(max_materialize="2.7", max_idle="true"), 10) == Factory(2, 1, 10)
    assert factory_of(cmds(max_idle="1"), 10) == Factory(10, 1, 10)
    assert factory_of(cmds(max_materialize="3"), 0) == Factory(1, None, 0)


# --------------------------------------------------------------------------------------------------
# policy expressions


def test_duration_is_copied_as_written() -> None:
    assert sd._duration_attrs(cmds(allowed_job_duration=" 3600 ")) == {"AllowedJobDuration": "3600"}
    assert sd._duration_attrs(cmds(allowed_job_duration="undefined")) == {"AllowedJobDuration": "undefined"}
    assert sd._duration_attrs(NONE) == {}


def test_periodic_expressions_pass_through_and_leave_in_queue_defaults_false() -> None:
    get = cmds(periodic_remove="JobStatus == 5 && (time() - EnteredCurrentStatus) > 60",
               periodic_hold="NumJobStarts > 3", job_max_vacate_time="60")
    assert sd._periodic_attrs(get) == {
        "PeriodicHold": "NumJobStarts > 3",
        "PeriodicRemove": "JobStatus == 5 && (time() - EnteredCurrentStatus) > 60",
        "JobMaxVacateTime": "60", "LeaveJobInQueue": "false"}
    assert sd._periodic_attrs(cmds(leave_in_queue="JobStatus == 4")) == {"LeaveJobInQueue": "JobStatus == 4"}


def test_periodic_expression_must_be_one_classad_expression() -> None:
    with pytest.raises(SubmitDescriptionError, match=r"periodic_release = \(\(: not a valid ClassAd expression"):
        sd._periodic_attrs(cmds(periodic_release="(("))


def test_on_exit_expressions_pass_through_without_retries() -> None:
    assert sd._exit_attrs(cmds(on_exit_remove="ExitCode == 0", on_exit_hold="ExitCode == 1")) == {
        "OnExitRemove": "ExitCode == 0", "OnExitHold": "ExitCode == 1"}
    assert sd._exit_attrs(NONE) == {}


def test_max_retries_writes_the_retrying_on_exit_remove() -> None:
    assert sd._exit_attrs(cmds(max_retries="3")) == {
        "JobMaxRetries": "3", "OnExitHold": "false",
        "OnExitRemove": "NumJobCompletions > JobMaxRetries || ExitCode =?= 0"}


def test_success_code_retry_until_and_extra_on_exit_remove() -> None:
    attrs = sd._exit_attrs(cmds(success_exit_code="3", retry_until="7", on_exit_remove="ExitBySignal == false"))
    assert attrs == {  # as condor_submit writes it (tests/cli/corpus/c19-retries.ads)
        "JobMaxRetries": "2", "OnExitHold": "false", "JobSuccessExitCode": "3",
        "OnExitRemove": "NumJobCompletions > JobMaxRetries || ExitCode =?= JobSuccessExitCode || "
                        "ExitCode =?= 7 || ExitBySignal == false"}
    # an operand that binds more loosely than || is parenthesised
    assert sd._exit_attrs(cmds(max_retries="1", on_exit_remove="ExitCode > 0 ? true : false"))[
        "OnExitRemove"] == "NumJobCompletions > JobMaxRetries || ExitCode =?= 0 || (ExitCode > 0 ? true : false)"
    assert sd._exit_attrs(cmds(retry_until="ExitCode > 9"))["OnExitRemove"] == (
        "NumJobCompletions > JobMaxRetries || ExitCode =?= 0 || ExitCode > 9")


def test_negative_retries_are_refused() -> None:
    with pytest.raises(SubmitDescriptionError, match="max_retries = -1: must not be negative"):
        sd._exit_attrs(cmds(max_retries="-1"))


def test_rank_defaults_to_zero() -> None:
    assert sd._rank_attrs(NONE) == {"Rank": "0.0"}
    assert sd._rank_attrs(cmds(rank="Memory * 2")) == {"Rank": "Memory * 2"}


def test_hold_is_condorfacts_held_with_the_submitted_on_hold_code() -> None:
    assert sd._hold_attrs(cmds(hold="true")) == {
        "JobStatus": "5", "HoldReason": "\"submitted on hold at user's request\"", "HoldReasonCode": "15"}
    assert sd._hold_attrs(cmds(hold="true"))["JobStatus"] == str(int(condorfacts.JobStatus.HELD))
    assert sd._hold_attrs(cmds(hold="no")) == {}
    assert sd._hold_attrs(NONE) == {}


def test_a_new_job_is_idle() -> None:
    assert sd._CONSTANT["JobStatus"] == "1" == str(int(condorfacts.JobStatus.IDLE))


# --------------------------------------------------------------------------------------------------
# custom attributes and the composition


def test_custom_attributes_are_expressions_and_empty_ones_are_left_out() -> None:
    get = {"+Weight": "3 * 10", "MY.Category": '"align"'}.get
    assert sd._custom_attrs(get, [("Weight", "+Weight"), ("Category", "MY.Category"), ("Gone", "+Gone")]) == {
        "Weight": "3 * 10", "Category": '"align"'}
    with pytest.raises(SubmitDescriptionError, match=r"\+Bad = 1 \+: not a valid ClassAd expression"):
        sd._custom_attrs({"+Bad": "1 +"}.get, [("Bad", "+Bad")])


def _attrs(tmp_path: Path, custom: list[tuple[str, str]] | None = None, **commands: str) -> dict[str, str]:
    ctx = sd._Context(str(tmp_path), "alice", 1, 0, "example.org")
    return sd._job_attrs(cmds(executable="/bin/true", **commands), ctx, custom or [])


def test_job_attrs_custom_attributes_replace_computed_ones(tmp_path: Path) -> None:
    attrs = _attrs(tmp_path, [("Rank", "rank_"), ("LeaveJobInQueue", "leave_")], rank_="Memory", leave_="true")
    assert attrs["Rank"] == "Memory" and attrs["LeaveJobInQueue"] == "true"


def test_job_attrs_requirements_follow_the_other_groups(tmp_path: Path) -> None:
    plain = _attrs(tmp_path)["Requirements"]
    assert "TARGET.GPUs" not in plain and "TARGET.Cpus" not in plain
    assert "((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))" in plain
    gpus = _attrs(tmp_path, request_gpus="1", request_cpus="2", should_transfer_files="YES")["Requirements"]
    assert "(TARGET.GPUs >= RequestGPUs)" in gpus and "(TARGET.Cpus >= RequestCpus)" in gpus
    assert gpus.endswith("&& (TARGET.HasFileTransfer)")
    assert "HasFileTransfer" not in _attrs(tmp_path, universe="local")["Requirements"]


def test_job_attrs_stdin_counts_toward_disk_usage_only_when_transferred(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"i" * 4096)
    sent = _attrs(tmp_path, input="in.txt")["DiskUsage"]
    kept = _attrs(tmp_path, input="in.txt", transfer_input="false")["DiskUsage"]
    assert int(sent) - int(kept) == 4


def test_job_attrs_reports_the_first_group_s_error_first(tmp_path: Path) -> None:
    # an unknown universe and a bad request: the universe group runs first
    with pytest.raises(SubmitDescriptionError, match="universe = standard"):
        _attrs(tmp_path, universe="standard", request_memory="lots")
