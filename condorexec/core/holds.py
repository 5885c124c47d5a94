"""What to do with a held job: retry it larger, or fail its call with the reason (docs/design.md §5).

A pure decision over what the hold says (condorfacts.classify_hold), what the call asked for and what
the sizer may grow; the engine carries it out on the pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from condorexec.condorfacts import Resource, classify_hold, request_edit
from condorexec.core.calls import Task
from condorexec.errors import JobHeld, ResourceExhausted
from condorexec.resources import Resources


@dataclass(frozen=True)
class Retry:
    """Edit the held job's request (``attr`` = ``value``) and release it."""

    size: Resources
    resource: Resource
    attr: str
    value: str


@dataclass(frozen=True)
class Fail:
    """Remove the held job and fail its call with ``error``."""

    error: Exception


def exhausted(code: int | None, subcode: int | None, reason: str) -> Resource | None:
    """The resource the hold is about (None: a hold of another kind)."""
    return classify_hold(code, subcode, reason)


def decide(task: Task, job_id: str, code: int | None, subcode: int | None, reason: str, *,
           used: float | None, sizer, max_retries: int, autolabel: bool, stderr_tail: str = "") -> Retry | Fail:
    """Retry ``task`` larger if its size was condorexec's choice and retries remain, else fail it."""
    resource = exhausted(code, subcode, reason)
    if resource is None:
        return Fail(JobHeld(job_id, code, subcode, reason + stderr_tail))
    bigger = sizer.retry(task.category, task.spec, resource, task.size, used) if task.retries < max_retries else None
    if bigger is not None:
        attr, value = request_edit(resource, bigger.get(resource))
        return Retry(bigger, resource, attr, value)
    if task.spec.get(resource) is not None:
        hint = ("the size was given in parsl_resource_specification: raise it, or leave it out and use "
                "CondorExecutor(autolabel=True)")
    elif not autolabel:
        hint = ("the default size was too small: give a larger value in parsl_resource_specification, or "
                "use CondorExecutor(autolabel=True)")
    else:
        hint = f"retried {task.retries} times up to the pool maximum"
    return Fail(ResourceExhausted(resource, task.size.get(resource), used, job_id, reason, hint))
