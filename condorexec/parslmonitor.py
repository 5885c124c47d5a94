"""Parsl monitoring with no path from the execute node back to the submitter.

With a ``MonitoringHub``, Parsl wraps each app so that the job sends "running" and resource-usage
messages through the executor's ``remote_monitoring_radio``. Parsl's ``FilesystemRadio`` writes them
into ``{run_dir}/monitor-fs-radio/new/`` on a filesystem the submitter reads: a path the execute node
of a pool without a shared filesystem does not have. :class:`SandboxRadio` keeps Parsl's receiver
(which reads that directory) but its sender writes each message as a file at the top of the job's
sandbox, which HTCondor (and the local pool) bring back with the job; the adapter then moves them
into the receiver's directory before the call's future completes (``FilePlan.collect``). So the
monitoring database gets every message, after the job rather than during it.
"""

from __future__ import annotations

import os
import pickle
import sys
import uuid

import cloudpickle
from parsl.monitoring.radios.base import MonitoringRadioSender
from parsl.monitoring.radios.filesystem import FilesystemRadio

#: how a message file in the sandbox is named: this prefix, then a unique id
MESSAGE_PREFIX = "parsl-monitor-"


def receiver_directory(run_dir: str | os.PathLike) -> str:
    """Where Parsl's FilesystemRadio receiver reads finished messages for ``run_dir``."""
    return os.path.join(os.fspath(run_dir), "monitor-fs-radio", "new")


class SandboxRadio(FilesystemRadio):
    """A FilesystemRadio whose messages travel back with the job (see the module docstring)."""

    def create_sender(self) -> MonitoringRadioSender:
        return SandboxRadioSender(os.getcwd())  # on the node, in the job's sandbox


class SandboxRadioSender(MonitoringRadioSender):
    """Writes each message to ``directory`` (the sandbox) whole, then gives it its final name."""

    def __init__(self, directory: str):
        self.directory = directory

    def send(self, message: object) -> None:
        name = f"{MESSAGE_PREFIX}{uuid.uuid4().hex}"
        partial = os.path.join(self.directory, f".{name}.partial")
        with open(partial, "wb") as fh:
            pickle.dump(message, fh)
        os.rename(partial, os.path.join(self.directory, name))


# The radio travels inside each monitored call's payload; by value, so a node needs Parsl (which
# Parsl's monitoring wrapper imports anyway) but not condorexec.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

