"""Learned requests for condor_submit users: ``+CondorexecCategory`` jobs are sized by autolabel.

A job that names a category and leaves a request out gets the category's learned label for it
(max-throughput mode, window 1: the label changes with every completion), or the largest machine
while the category is still learning. User-given requests always win. After a local run, the
finished jobs' history feeds the store so the next submit starts from what this one used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import classad2
import htcondor2

from condorexec.labels.policy import AllocationMode, Label, Maximum
from condorexec.labels.poller import HistoryPoller
from condorexec.labels.store import LabelStore
from condorexec.names import CATEGORY_ATTR
from condorexec.pools.base import Pool
from condorexec.pools.local.spool import SpoolView
from condorexec.submit.cluster import Submission

#: submit commands a label fills in, and how its value is written (explicit units, docs/design.md §3)
_REQUESTS = (("request_cpus", "cores", "{}"), ("request_memory", "memory", "{}MB"), ("request_disk", "disk", "{}MB"))
MODE = AllocationMode.MAX_THROUGHPUT
WINDOW = 1


def category_of(description: htcondor2.Submit) -> str | None:
    """The category the description names (``+CondorexecCategory = "name"``), or None."""
    key = f"MY.{CATEGORY_ATTR}"
    if key not in description.keys():
        return None
    text = description.expand(key).strip()
    try:
        value = classad2.ExprTree(text).eval()
    except Exception:  # not a ClassAd literal: take the text itself
        value = text
    if not isinstance(value, str) or not value or "$(" in value:
        raise ValueError(f"+{CATEGORY_ATTR} = {text}: must be a non-empty string constant "
                         "(per-job categories are not supported by condorexec submit)")
    return value


def maximum_of(pool: Pool | SpoolView) -> Maximum:
    """What a learning category asks for: the largest machine of ``pool``."""
    m = pool.largest_machine()
    return Maximum(cores=max(m.cores, 1), memory=max(m.memory, 1), disk=max(m.disk, 1))


def learn(pool: Pool, store: LabelStore) -> int:
    """Feed every finished, categorised job not yet read into the store; returns the samples added."""
    poller = HistoryPoller(pool, store, source=pool.profile.history_source, constraint=f"{CATEGORY_ATTR} =!= undefined")
    return poller.poll_once()


def apply_label(submission: Submission, category: str, store: LabelStore, pool: Pool,
                err: TextIO = sys.stderr) -> dict[str, str]:
    """Write the learned (or maximum) requests into every proc that leaves them out; returns them.
    With several queue statements, a request one statement sets stays that statement's."""
    missing = [r for r in _REQUESTS if submission.leaves_unset(r[0])]
    if not missing:
        return {}
    maximum = maximum_of(pool)
    label: Label = store.label(category, MODE, maximum, window=WINDOW)
    filled: dict[str, str] = {}
    for command, resource, fmt in missing:
        value = getattr(label, resource)
        if value is None:
            value = getattr(maximum, resource)
        filled[command] = fmt.format(int(value))
        submission.fill_unset(command, filled[command])
    state = "learned" if any(getattr(label, r) is not None for _, r, _ in missing) else "still learning: maximum"
    print(f"condorexec: category {category!r} ({state}): " + ", ".join(f"{k} = {v}" for k, v in filled.items()),
          file=err)
    return filled


def open_store(path: str | None) -> LabelStore:
    return LabelStore(Path(path) if path else None)
