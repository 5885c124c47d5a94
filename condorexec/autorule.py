"""``mode="auto"``'s rule, alone: which side a category's calls go to, from their wall time and what a job
start costs the pool. Pure, and below both its users: the core's router (``core/modes.py``, which adds the
timing call and the hysteresis) and the ``condorexec labels`` table (``labels/explain.py``), which shows
each category's side.
"""

from __future__ import annotations

#: a category is "short" when its calls take less than this many job starts
SHORT_FACTOR = 10

WORKERS, PER_CALL = "workers", "per_call"


def auto_choice(wall: float | None, job_start_seconds: float) -> str | None:
    """WORKERS for calls shorter than SHORT_FACTOR job starts, PER_CALL for longer; None if unmeasured."""
    if wall is None:
        return None
    return WORKERS if wall < SHORT_FACTOR * job_start_seconds else PER_CALL
