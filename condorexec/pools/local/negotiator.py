"""The negotiator's matchmaking and the startd's claim: which idle job starts on which node, now.

In queue order (JobPrio, then submission), each idle job that fits in what a node has free is
claimed; smaller jobs of the same priority may pass a waiting big one, but lower-priority ones may
not take the node it waits for (HTCondor's defrag daemon plays this part). Requests are not
quantized: an 8000 MB node fits eight 1000 MB jobs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from condorexec.pools.local.nodes import ExecuteNode
from condorexec.pools.local.queue import QueuedJob
from condorexec.resources import Resources


def match(idle: Sequence[QueuedJob], nodes: Sequence[ExecuteNode],
          claim: Callable[[QueuedJob, ExecuteNode, Resources], None]) -> list[QueuedJob]:
    """Claim, with ``claim``, every job of ``idle`` (in matchmaking order) that fits now; returns them."""
    if not any(n.free_cores > 0 for n in nodes):
        return []  # every core is taken: nothing can start (the common case while a big queue drains)
    claimed = []
    reserved: dict[str, int] = {}  # node name -> priority of the waiting job that reserved it
    for job in idle:
        if not any(n.free_cores > 0 for n in nodes):
            break
        if job.removing:
            continue
        request = job.request()
        usable = [n for n in nodes if reserved.get(n.spec.name, job.priority) <= job.priority]
        node = next((n for n in usable if n.fits(request)), None)
        if node is not None:
            claim(job, node, request)
            claimed.append(job)
        elif (target := node_to_drain(request, usable)) is not None:
            # otherwise a whole-node job (an autolabel probe) would starve behind a stream of small ones
            reserved.setdefault(target.spec.name, job.priority)
    return claimed


def node_to_drain(request: Resources, nodes: list[ExecuteNode]) -> ExecuteNode | None:
    """The node a waiting job would fit once empty (the biggest such node)."""
    fitting = [n for n in nodes if request.fits_in(n.spec.resources)]
    return max(fitting, key=lambda n: n.spec.resources.ordering_key(), default=None)


def claim_slot(job: QueuedJob, node: ExecuteNode, request: Resources, execute: Path, now: float) -> None:
    """The startd's part of a match: carve ``request`` out of ``node`` as a dynamic slot for ``job``
    and record it in the job ad (the caller then marks the job running)."""
    node.take(request)
    node.slots_used += 1
    job.node = node
    job.slot_name = f"slot1_{node.slots_used}@{node.spec.name}"
    job.started_at = now
    job.peak_memory_mb = 0
    job.memory_logged_mb = 0
    ad = job.ad
    ad["NumJobStarts"] = starts = int(ad.get("NumJobStarts", 0)) + 1
    # unique per start: the previous attempt's sandbox may still be in the cleaner's queue
    job.sandbox = execute / node.spec.name / f"dir_{job.cluster}_{job.proc}_{os.getpid()}_{starts}"
    ad["JobStartDate"] = int(ad.get("JobStartDate", now))
    ad["JobCurrentStartDate"] = int(now)
    ad["RemoteHost"] = job.slot_name
    ad["CpusProvisioned"], ad["MemoryProvisioned"] = request.cores, request.memory
    ad["DiskProvisioned"] = request.disk * 1024  # KiB


def release_slot(job: QueuedJob) -> None:
    """Give the job's dynamic slot back to its node (nothing if it holds none)."""
    if job.node is None:
        return
    provisioned = Resources(int(job.ad["CpusProvisioned"]), int(job.ad["MemoryProvisioned"]),
                            int(job.ad["DiskProvisioned"]) // 1024, job.request().gpus)
    job.node.take(provisioned, sign=-1)
    job.node = None
