"""The submit commands condor_submit knows, and the lines of a description no command uses (typos).

condor_submit warns ``WARNING: the line 'requst_cpus = 2' was unused by condor_submit. Is it a typo?``
for a line that sets something nothing reads: no command of that name, no macro that refers to it.
A job then runs at the default size without a word, so condorexec says the same. The names below are
HTCondor 25's submit keywords (``SUBMIT_KEY_*``/``SUBMIT_CMD_*`` in ``submit_utils.h``), the job
attribute names condor_submit also reads for some of them (recorded in the corpus, c100 and c104), and
the variables DAGMan passes every node. A name missing here only costs a warning, never a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import htcondor2

__all__ = ["KNOWN_COMMANDS", "unused_lines", "unused_queue_variables", "warning_for_line", "warning_for_item",
           "obsolete_memory_requirement"]

KNOWN_COMMANDS = frozenset(name.lower() for name in """
skip_filechecks allow_arguments_v1 allow_environment_v1 getenv get_env send_credential
Cluster ClusterId Process ProcId Step Row ItemIndex Node Item batch_name batch_id hold priority prio
notification executable interactive_executable description arguments arguments2 args interactive_args
environment env environment2 input shell stdin output stdout error stderr initialdir initial_dir iwd job_iwd
remote_initialdir requirements preferences rank image_size disk_usage memory_usage
request_cpus request_memory request_disk request_gpus require_gpus retry_request_memory
retry_request_memory_max retry_request_memory_increase gpus_minimum_memory gpus_minimum_capability
gpus_maximum_capability gpus_minimum_runtime universe machine_count notify_user email_attributes
exit_requirements log log_xml ulog_execute_attrs dagman_log core_size coresize nice_user keep_claim_idle
job_ad_information_attrs job_lease_duration job_machine_attrs job_machine_attrs_history_length node_count
NodeCount grid_resource x509userproxy use_x509userproxy use_scitokens use_scitoken scitokens_file
delegate_job_gsi_credentials_lifetime arc_rte arc_application arc_resources arc_data_staging rendezvousdir
batch_extra_submit_args batch_project batch_queue batch_runtime file_remaps buffer_files buffer_size
buffer_block_size stack_size fetch_files compress_files append_files local_files encrypt_execute_directory
starter_debug starter_log tool_daemon_cmd tool_daemon_args tool_daemon_arguments tool_daemon_arguments2
tool_daemon_input tool_daemon_error tool_daemon_output suspend_job_at_exec when_to_transfer_output
should_transfer_files preserve_relative_paths transfer_checkpoint_files transfer_container
transfer_input_files TransferInputFiles transfer_output_files TransferOutputFiles transfer_output_remaps
transfer_executable transfer_input transfer_output transfer_error transfer_plugins max_transfer_input_mb
max_transfer_output_mb want_job_networking want_io_proxy common_input_files container_is_common manifest
manifest_dir use_oauth_services UseOAuthServices jobset public_input_files encrypt_input_files
encrypt_output_files dont_encrypt_input_files dont_encrypt_output_files output_destination output_directory
stream_input stream_output stream_error copy_to_spool leave_in_queue periodic_hold periodic_hold_reason
periodic_hold_subcode periodic_release periodic_remove periodic_vacate on_exit_hold on_exit_hold_reason
on_exit_hold_subcode on_exit_remove on_evict_checks noop_job noop_job_exit_signal noop_job_exit_code
match_list_length dagman_job_id DAGManJobId submit_event_notes submit_event_user_notes jar_files java_vm_args
java_vm_arguments java_vm_arguments2 parallel_script_shadow parallel_script_starter max_job_retirement_time
want_ads skip_if_dataflow deferral_time deferral_window deferral_prep_time max_retries retry_until
success_exit_code checkpoint_exit_code checkpoint_destination erase_output_and_error_on_restart cron_minute
cron_hour cron_day_of_month cron_month cron_day_of_week cron_window cron_prep_time run_as_owner load_profile
primary_unix_group concurrency_limits concurrency_limits_expr accounting_group accounting_group_user
docker_image docker_network_type docker_pull_policy docker_override_entrypoint docker_send_credentials
container_image container_service_names container_target_dir mount_under_scratch vm_vnc vm_type vm_memory
vm_vcpus vm_disk vm_macaddr vm_checkpoint vm_networking vm_networking_type vm_no_output_vm xen_kernel
xen_initrd xen_root xen_kernel_params WantNameTag ec2_access_key_id ec2_secret_access_key
aws_access_key_id_file aws_secret_access_key_file aws_region s3_access_key_id_file s3_secret_access_key_file
gs_access_key_id_file gs_secret_access_key_file ec2_ami_id ec2_user_data ec2_user_data_file
ec2_security_groups ec2_security_ids ec2_keypair ec2_keypair_file ec2_keyp_air ec2_key_pair_file
ec2_instance_type ec2_elastic_ip ec2_ebs_volumes ec2_availability_zone ec2_vpc_subnet ec2_vpc_ip
ec2_tag_names ec2_spot_price ec2_block_device_mapping ec2_parameter_names ec2_iam_profile_arn
ec2_iam_profile_name gce_image gce_account gce_auth_file gce_machine_type gce_metadata gce_metadata_file
gce_preemptible gce_json_file azure_auth_file azure_location azure_size azure_image azure_admin_username
azure_admin_key cloud_label_names next_job_start_delay want_graceful_removal job_max_vacate_time
allowed_job_duration allowed_execute_duration max_materialize JobMaterializeLimit max_idle
JobMaterializeMaxIdle materialize_max_idle cuda_version kill_sig remove_kill_sig hold_kill_sig
kill_sig_timeout dag_node_name
RequestCpus RequestDisk RequestMemory RequestGPUs JobPrio NotifyUser UserLog ShouldTransferFiles
WhenToTransferOutput JobMaxVacateTime PeriodicRemove PeriodicHold PeriodicRelease OnExitRemove OnExitHold
AccountingGroup JobBatchName CoreSize
JOB RETRY DAG_STATUS FAILED_COUNT DAG_PARENT_NAMES
""".split())

#: keyword families: request_<resource>, ec2_tag_<name>, ... (submit_utils.h's *_PREFIX keys)
_PREFIXES = ("request_", "require_", "ec2_tag_", "ec2_parameter_", "cloud_label_", "transform_body_", "remote_")
_SUFFIXES = ("_container_port",)
_REF = re.compile(r"\$[A-Za-z_]*\(\s*([A-Za-z_][\w.]*)")


def _known(name: str) -> bool:
    low = name.lower()
    return (low in KNOWN_COMMANDS or low.startswith(("+", "my.")) or low.startswith(_PREFIXES)
            or low.endswith(_SUFFIXES))


def _referenced(description: htcondor2.Submit) -> set[str]:
    """Every name a value or the queue statement refers to with a macro (``$(name)``, ``$F(name)``...)."""
    texts = [description[key] for key in description.keys()] + [description.getQArgs() or ""]
    return {ref.lower() for text in texts for ref in _REF.findall(text)}


def unused_lines(description: htcondor2.Submit) -> list[tuple[str, str]]:
    """(name, raw value) of each assignment no command reads and no macro refers to, in file order."""
    used = _referenced(description)
    return [(key, description[key]) for key in description.keys()
            if not _known(key) and key.lower() not in used]


def unused_queue_variables(description: htcondor2.Submit, names: Iterable[str]) -> list[str]:
    """The queue statement's item variables no value refers to."""
    used = _referenced(description)
    return [name for name in names if name.lower() not in used]


_MEMORY_REF = re.compile(r"(?<![\w.])(?:TARGET\.)?Memory\b", re.IGNORECASE)


def obsolete_memory_requirement(description: htcondor2.Submit, program: str = "condorexec submit") -> str | None:
    """condor_submit's warning for ``requirements`` that test the machine's Memory (request_memory is the
    way: the request goes into Requirements by itself), or None."""
    text = description.get("requirements") or ""
    if not _MEMORY_REF.search(text):
        return None
    return ("WARNING: your Requirements expression refers to TARGET.Memory. This is obsolete. Set request_memory "
            f"and {program} will modify the Requirements expression as needed.")


def warning_for_line(name: str, value: str, program: str = "condorexec submit") -> str:
    return f"WARNING: the line '{name} = {value}' was unused by {program}. Is it a typo?"


def warning_for_item(name: str, program: str = "condorexec submit") -> str:
    return f"WARNING: the Queue variable '{name}' was unused by {program}. Is it a typo?"
