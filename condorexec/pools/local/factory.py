"""The schedd's late-materialization factory: a cluster's procs made one by one, within its limits.

A cluster that asks for late materialization (``max_materialize``, ``max_idle``) is kept as its lazy
plan, and procs are made as the schedd's factory makes them: never more than JobMaterializeLimit in
the queue, never a new one while JobMaterializeMaxIdle are idle or held. :class:`Factory` owns the
counts those limits are judged on; the queue tells it what happened to its procs
(:meth:`Factory.status_changed`, :meth:`Factory.left_queue`) and asks it for the next proc's ad
(:meth:`Factory.next_ad`) until it says no.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import classad2

from condorexec.condorfacts import JobStatus
from condorexec.submit import Factory as FactorySpec
from condorexec.submit import SubmitDescriptionError

log = logging.getLogger(__name__)

#: the statuses JobMaterializeMaxIdle counts
_WAITING = (JobStatus.IDLE, JobStatus.HELD)


class Factory:
    """A late-materialization cluster's procs not made yet, and what the limits count.

    ``ads`` is the rest of the cluster's plan, consumed one ad per materialized proc (a million-proc
    cluster is never a list). ``cluster_ad`` is what a removal constraint is matched against, as the
    schedd matches the cluster ad of a factory (proc 0's attributes without a ProcId)."""

    def __init__(self, cluster: int, spec: FactorySpec, ads: Iterator[classad2.ClassAd],
                 cluster_ad: classad2.ClassAd):
        self.cluster = cluster
        self.spec = spec
        self._ads = ads
        self.cluster_ad = cluster_ad
        self.left = spec.total  # procs not made yet (kept by a removal: they will never be made)
        self.made = 0
        self.removed = False  # condor_rm of the cluster, or a proc that could not be made: no more procs
        self._in_queue = 0
        self._not_running = 0  # idle or held: what JobMaterializeMaxIdle limits

    def may_materialize(self) -> bool:
        """condor's JobMaterializeTimerCallback: below the limit, and below max_idle when it is >= 0."""
        if self.removed or self.left <= 0 or self._in_queue >= self.spec.limit:
            return False
        max_idle = self.spec.max_idle
        return max_idle is None or max_idle < 0 or self._not_running < max_idle

    def next_ad(self, now: float) -> classad2.ClassAd | None:
        """The next proc's ad, counted as queued and idle, if the limits allow one; else None."""
        if not self.may_materialize():
            return None
        try:
            ad = next(self._ads, None)
        except SubmitDescriptionError as exc:
            # a proc whose own values are wrong: the schedd's factory stops there too (paused in error)
            log.error("cluster %d: proc %d cannot be materialized, no more are made: %s", self.cluster,
                      self.spec.total - self.left, exc)
            self.remove()
            return None
        if ad is None:
            self.left = 0
            return None
        self.left -= 1
        self.made += 1
        self._in_queue += 1
        self._not_running += 1
        ad["JobMaterializeLimit"] = self.spec.limit
        ad["TotalSubmitProcs"] = self.spec.total
        ad["JobMaterializeDate"] = int(now)
        return ad

    def status_changed(self, was: int, status: int) -> None:
        """One of its procs went from ``was`` to ``status``."""
        self._not_running += (status in _WAITING) - (was in _WAITING)

    def left_queue(self) -> None:
        """One of its procs left the queue: its place in the limit is free."""
        self._in_queue -= 1

    def remove(self) -> None:
        """No more procs are made; the rest of the plan is not needed any more."""
        self.removed = True
        self._ads = iter(())

    @property
    def finished(self) -> bool:
        """Nothing more will be made and none of its procs is in the queue: the cluster leaves it."""
        return (self.left <= 0 or self.removed) and self._in_queue == 0
