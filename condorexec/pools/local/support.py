"""What the embedded local pool does with each submit command: honours it, ignores it, or refuses it.

The local pool runs vanilla-universe jobs and honours the commands HTCondor's file transfer, requests
and job ads need; for everything else a user relies on, :func:`local_pool_problems` says so (an error
when running the job would be wrong, a warning when the command merely has no effect) instead of
silently ignoring it. :meth:`LocalPool.prepare <condorexec.pools.local.LocalPool.prepare>` asks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import classad2
import htcondor2

from condorexec.condorfacts import Universe
from condorexec.pools.base import Machine
from condorexec.resources import Resources

#: commands with no effect on the local pool: a warning names each one used
IGNORED_LOCALLY = frozenset("""
requirements rank periodic_hold periodic_hold_reason periodic_hold_subcode periodic_remove periodic_release
periodic_vacate on_exit_hold on_exit_hold_reason on_exit_remove max_retries retry_until success_exit_code
notification notify_user email_attributes stream_output stream_error concurrency_limits accounting_group
accounting_group_user nice_user job_max_vacate_time leave_in_queue hold
checkpoint_exit_code want_graceful_removal kill_sig remove_kill_sig hold_kill_sig coresize
allowed_execute_duration allowed_job_duration max_transfer_input_mb max_transfer_output_mb
preserve_relative_paths transfer_plugins output_destination encrypt_input_files encrypt_output_files
dont_encrypt_input_files dont_encrypt_output_files job_lease_duration run_as_owner load_profile
x509userproxy use_x509userproxy use_oauth_services gpus_minimum_capability gpus_maximum_capability
require_gpus cuda_version job_machine_attrs deferral_time deferral_window deferral_prep_time
cron_minute cron_hour cron_day_of_month cron_month cron_day_of_week next_job_start_delay
retry_request_memory retry_request_memory_increase retry_request_memory_max job_ad_information_attrs
""".split())

#: commands that ask for something the local pool cannot do at all: refusing beats running wrongly
REFUSED_LOCALLY = frozenset({"container_image", "docker_image", "docker_network_type", "container_service_names",
                             "transfer_container", "vm_type", "vm_memory", "grid_resource", "machine_count"})

#: custom attributes the local pool gives a meaning to
KNOWN_CUSTOM = frozenset({"condorexeccategory", "condorexecfastlaunch", "jobprio"})
REFUSED_CUSTOM = frozenset({"singularityimage", "dockerimage", "containerimage", "wantdocker"})


def local_pool_problems(description: htcondor2.Submit, ads: Iterable[classad2.ClassAd],
                        machines: Sequence[Machine]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about running ``ads`` on the local pool."""
    errors: list[str] = []
    warnings: list[str] = []
    for key in description.keys():
        low = key.lower()
        custom = low[1:] if low.startswith("+") else low[3:] if low.startswith("my.") else None
        if custom is not None:
            if custom in REFUSED_CUSTOM:
                errors.append(f"{key}: containers are not supported on the local pool")
            elif custom not in KNOWN_CUSTOM:
                warnings.append(f"{key}: kept in the job ad, but the local pool gives it no meaning")
        elif low in REFUSED_LOCALLY:
            errors.append(f"{key} = {description[key]}: not supported on the local pool")
        elif low in IGNORED_LOCALLY:
            warnings.append(f"{key} = {description[key]}: ignored on the local pool")
    universe = (description.get("universe") or "vanilla").strip().lower()
    if universe in ("docker", "container"):
        errors.append(f"universe = {universe}: containers are not supported on the local pool")
    if (description.get("should_transfer_files") or "").strip().upper() == "NO":
        warnings.append("should_transfer_files = NO: the local pool still runs each job in a sandbox and "
                        "transfers files as with YES (new files in the sandbox come back to initialdir)")
    universe_errors: list[str] = []
    size_errors: list[str] = []
    for ad in ads:  # one pass: ``ads`` may be a stream (each different proc of a big cluster once)
        uni = ad.get("JobUniverse", Universe.VANILLA)
        if uni != Universe.VANILLA and not universe_errors:
            universe_errors.append(f"job {ad['ClusterId']}.{ad['ProcId']}: JobUniverse {uni} ({universe}): "
                                   "the local pool runs only vanilla-universe jobs")
        need = _request(ad)
        if not size_errors and not any(need.fits_in(m.resources) for m in machines):
            sizes = ", ".join(f"{m.name}: {m.cores} cpus, {m.memory} MB, {m.disk} MB disk, {m.gpus} gpus"
                              for m in machines)
            size_errors.append(f"job {ad['ClusterId']}.{ad['ProcId']} requests {need.cores} cpus, "
                               f"{need.memory} MB memory, {need.disk} MB disk, {need.gpus} gpus: no local node is "
                               f"that big ({sizes})")
        if universe_errors and size_errors:
            break
    errors += universe_errors + size_errors
    return errors, warnings


def _request(ad: classad2.ClassAd) -> Resources:
    def value(attr: str, default: int) -> int:
        v = ad.eval(attr) if attr in ad else default
        if isinstance(v, bool | classad2.Value) or not isinstance(v, int | float):
            return default  # classad2.Value (undefined, error) is an int subclass
        return int(v)

    return Resources(value("RequestCpus", 1), value("RequestMemory", 128), -(-value("RequestDisk", 1024) // 1024),
                     value("RequestGPUs", 0))
