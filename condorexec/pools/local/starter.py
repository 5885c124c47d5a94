"""The starter's part: a job's sandbox made and filled with its inputs, and its outputs sent back.

Input and output follow HTCondor's file-transfer semantics (:mod:`.transfer`): the executable and
``transfer_input_files`` (and stdin) are copied into a private sandbox, the job gets the environment a
starter gives (``_CONDOR_SCRATCH_DIR``, ``_CONDOR_SLOT``, no PATH beyond :data:`BASE_ENV` unless the
job sets one), and afterwards the listed outputs, or every file created or changed in the top of the
sandbox, come back to the job's Iwd. A job marked ``CondorexecFastLaunch`` (the executor's
plain-Python wrapper) is started by forking a warm interpreter instead of exec'ing the wrapper: same
sandbox, same files.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import socket
from pathlib import Path

from condorexec import names
from condorexec.pools.local.isolation import bwrap_argv, python_dirs
from condorexec.pools.local.launcher import LaunchRequest
from condorexec.pools.local.launcher.messages import PYTHON_ENTRY_DEFAULT
from condorexec.pools.local.queue import QueuedJob
from condorexec.pools.local.spooling import is_spooled
from condorexec.pools.local.transfer import copy_files, output_target, parse_remaps, split_list
from condorexec.submit import ad_arguments, ad_environment

#: The environment a starter gives a job that sets none (HTCondor passes no PATH by default).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def prepare_sandbox(job: QueuedJob, bwrap: str | None) -> LaunchRequest:
    """Make the job's sandbox, transfer its input files into it, and say how to start it (a fast launch
    of the executor's Python wrapper, or an exec, inside bubblewrap when ``bwrap`` is set)."""
    ad, sandbox = job.ad, job.sandbox
    assert sandbox is not None
    if sandbox.exists():
        shutil.rmtree(sandbox)
    sandbox.mkdir(parents=True)
    iwd = Path(ad.get("Iwd", os.getcwd()))
    cmd = str(ad.get("Cmd", ""))
    fast = ad.get(names.FAST_LAUNCH_ATTR) is True and bwrap is None
    inputs = split_list(ad.get("TransferInput", ""))
    if not fast and ad.get("TransferExecutable", True) is not False and cmd:
        inputs.insert(0, cmd)
    stdin = str(ad.get("In", "/dev/null"))
    if stdin not in ("/dev/null", "") and ad.get("TransferIn", True) is not False:
        inputs.append(stdin)  # the starter is sent the input file with the job's other inputs
    for name in inputs:
        source = iwd / name
        target = sandbox / Path(name.rstrip("/")).name
        if source.is_dir():
            shutil.copytree(source, target if not name.endswith("/") else sandbox, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
            if name == cmd:
                target.chmod(0o755)
    job.inputs_snapshot = listing(sandbox)
    env = dict(BASE_ENV)
    env.update(ad_environment(ad))
    env.update({
        "_CONDOR_SCRATCH_DIR": str(sandbox),
        "_CONDOR_SLOT": job.slot_name.split("@")[0],
        "CONDOREXEC_NODE_CACHE": str(job.node.cache_dir) if job.node else "",
        "OMP_NUM_THREADS": str(job.request().cores),
    })
    if stdin in ("/dev/null", ""):
        stdin_path = None
    elif ad.get("TransferIn", True) is not False:
        stdin_path = str(sandbox / Path(stdin).name)
    else:  # transfer_input = false: the job reads it where it is (a shared filesystem)
        stdin_path = str(iwd / stdin)
    args = ad_arguments(ad)
    memory_limit = job.request().memory
    started = functools.partial(
        LaunchRequest, job_key=job.job_id, cwd=str(sandbox), env=env, stdin_path=stdin_path,
        stdout_path=str(sandbox / "_condor_stdout"), stderr_path=str(sandbox / "_condor_stderr"),
        memory_limit_mb=memory_limit)
    if fast:
        worker = ad.get(names.WORKER_ATTR) is not None  # a slot worker, forked warm like a call's job
        return started(kind="python", argv=args,
                       entry_point="condorexec.worker:main" if worker else PYTHON_ENTRY_DEFAULT)
    executable = str(sandbox / Path(cmd).name) if ad.get("TransferExecutable", True) is not False else cmd
    argv = [executable, *args]
    if bwrap is not None:
        # a category worker on this pool reads its mailbox in its Iwd (the run directory) directly
        mailbox = [str(iwd)] if ad.get(names.WORKER_ATTR) is not None else []
        argv = bwrap_argv(bwrap, argv, str(sandbox), read_only=python_dirs(),
                          read_write=[*mailbox, *([str(job.node.cache_dir)] if job.node else [])])
    return started(kind="exec", argv=argv)


def transfer_output(job: QueuedJob) -> tuple[str, int] | None:
    """Copy outputs back to Iwd as HTCondor would: a listed ``a/b.txt`` arrives as ``b.txt`` (no
    ``preserve_relative_paths`` here), a remap may name a path in directories not made yet. What
    HTCondor holds the job for (a named file missing, a target that cannot be written) comes back
    as (reason, errno), worded as HTCondor 25's shadow words it."""
    ad, sandbox = job.ad, job.sandbox
    assert sandbox is not None
    iwd = Path(ad.get("Iwd", os.getcwd()))
    copies: list[tuple[Path, Path]] = []
    returned: list[str] = []  # the outputs listed or found: a spooled job's SpooledOutputFiles
    for attr, name in (("Out", "_condor_stdout"), ("Err", "_condor_stderr")):
        target = ad.get(attr, "/dev/null")
        if target and target != "/dev/null" and (sandbox / name).exists():
            copies.append((sandbox / name, iwd / target))
    listed = ad.get("TransferOutput")
    if listed is not None:
        names = split_list(listed)
    else:  # HTCondor's default: every file created or changed in the top of the sandbox
        before = job.inputs_snapshot
        names = [name for name, stamp in listing(sandbox).items()
                 if not name.startswith("_condor_") and before.get(name) != stamp]
    remaps = parse_remaps(ad.get("TransferOutputRemaps", ""))
    for name in names:
        source = sandbox / name
        if not source.exists():
            return (f"Error from {job.slot_name}: Failed to transfer output files: "
                    f"{name} (No such file or directory)", errno.ENOENT)
        copies.append((source, output_target(name, remaps, iwd)))
        returned.append(name)
    failed = copy_files(copies)
    if failed is not None:
        target, exc = failed
        return (f"Transfer output files failure at access point {socket.gethostname()} while receiving "
                f"files from execution point {job.slot_name}. Details: writing to file {target}: "
                f"(errno {exc.errno}) {exc.strerror or exc}", exc.errno or 0)
    if is_spooled(ad):  # what transfer-data will deliver from the spool (Iwd here)
        ad["SpooledOutputFiles"] = ",".join(dict.fromkeys(returned))
    return None


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    """Top-level files of a sandbox with (mtime_ns, size): what changed is compared, not clocks."""
    listing = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            listing[entry.name] = (st.st_mtime_ns, st.st_size)
    return listing
