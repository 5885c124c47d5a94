"""The exceptions condorexec raises, in one place so users can catch them by type."""

from __future__ import annotations

from typing import Any


class CondorexecError(Exception):
    """Base class of every condorexec error."""


class InvalidSpecError(CondorexecError, ValueError):
    """A resource specification (or another user-given value) that cannot be submitted."""

    def __init__(self, field: str, value: Any, reason: str):
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"invalid {field}={value!r}: {reason}")


class UnsafeValueError(InvalidSpecError):
    """A value that would change the meaning of a submit description if written into it."""


class MissingInputError(CondorexecError, FileNotFoundError):
    """An app's input file does not exist at submit time."""


class ResourceExhausted(CondorexecError):
    """The job used more of a resource than it requested and the pool held it."""

    def __init__(self, resource: str, requested: float | None, used: float | None, job_id: str, reason: str,
                 hint: str = ""):
        self.resource, self.requested, self.used, self.job_id = resource, requested, used, job_id
        over = ""
        if requested is not None and used is not None:
            over = f": used {used:g} MB against a request of {requested:g} MB ({used - requested:+g} MB)"
        msg = f"job {job_id} exceeded its {resource} request{over}. HTCondor said: {reason}"
        super().__init__(msg + (f". {hint}" if hint else ""))


class JobHeld(CondorexecError):
    """The pool held the job for a reason other than resource exhaustion; condorexec removed it."""

    def __init__(self, job_id: str, code: int | None, subcode: int | None, reason: str):
        self.job_id, self.code, self.subcode, self.reason = job_id, code, subcode, reason
        super().__init__(f"job {job_id} was held (HoldReasonCode {code}, subcode {subcode}): {reason}")


class JobFailed(CondorexecError):
    """The job ended without producing a result (killed, removed, or the runner itself failed)."""


class AppExited(JobFailed):
    """The app raised ``SystemExit``, ``KeyboardInterrupt`` or another ``BaseException`` that is not an
    ``Exception`` (the original is ``__cause__``). Handed on as it is, it would stop whoever waits on the
    future (Parsl's completion callback catches only ``Exception``), not just fail this call."""

    def __init__(self, job_id: str, exception: BaseException):
        self.job_id, self.exception = job_id, exception
        super().__init__(f"job {job_id}: the app raised {type(exception).__name__}({exception})")


class SubmitDescriptionError(CondorexecError, ValueError):
    """A submit description that condor_submit would refuse (or that we cannot honour safely)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file, self.line, self.reason = file, line, message
        where = ""
        if file is not None:
            where = f"{file}, line {line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message)


class MaxJobsExceeded(SubmitDescriptionError):
    """More jobs than ``-maxjobs`` allows: condor_submit's own message, counted before expanding."""

    def __init__(self, max_jobs: int, jobs: int):
        self.max_jobs, self.jobs = max_jobs, jobs
        super().__init__(f"Number of submitted jobs would exceed -maxjobs ({max_jobs}): {jobs} jobs")


class SpoolError(CondorexecError):
    """A spool could not be used: a spooled job's files could not be copied into or out of its spool
    directory (``pools/local/spooling.py``), or the local pool's submitting processes did not act on a request
    written into its shared state directory (``pools/local/spool.py``). The message names the file or
    request and why."""
