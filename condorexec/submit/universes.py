"""The universe of a job and what it alone decides: JobUniverse, the kill signal and job lease, and the
attributes of the parallel, grid and container universes, as condor_submit 25.14 writes them (recorded:
corpus c83, c84, c96, c97, c98, c99)."""

from __future__ import annotations

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.values import _UNIVERSES, _Attrs, _Getter, _int_cmd, _s

#: the universes whose jobs run on the access point itself (no matchmaking, no file transfer)
_ON_ACCESS_POINT = (7, 12)  # scheduler, local


def _universe_attrs(get: _Getter) -> _Attrs:
    """JobUniverse (vanilla unless ``universe`` says otherwise) and the KillSig of access-point jobs."""
    text = get("universe") or "vanilla"
    uni = _UNIVERSES.get(text.strip().lower())
    if uni is None:
        raise SubmitDescriptionError(
            f"universe = {text}: unknown universe (one of {', '.join(sorted(_UNIVERSES))})")
    a = {"JobUniverse": str(uni)}
    if uni in _KILLED_WITH_SIGTERM:
        a["KillSig"] = _s("SIGTERM")
    if uni not in _ON_ACCESS_POINT and uni != _GRID:  # how long a job keeps running without its submitter
        a["JobLeaseDuration"] = _JOB_LEASE_DURATION
    if uni == _PARALLEL:
        hosts = _int_cmd("machine_count", get("machine_count") or "1")
        a |= {"MaxHosts": hosts, "MinHosts": hosts, "JobRequiresSandbox": "true", "WantIOProxy": "true"}
    elif uni == _GRID:
        a["GridResource"] = _s(_grid_resource(get))
    if text.strip().lower() == "container":
        a |= _container_attrs(get)
    return a


_GRID, _JAVA, _PARALLEL = 9, 10, 11
#: universes whose jobs condor_submit gives KillSig = "SIGTERM" unless kill_sig says otherwise
_KILLED_WITH_SIGTERM = (7, 9, 10, 11, 12)
#: grid types whose ads condorexec writes as condor_submit does (recorded: corpus c98); condor, ec2, gce
#: and azure need settings (and Requirements) of their own that condorexec does not reproduce
_GRID_TYPES = ("batch", "pbs", "lsf", "sge", "nqs", "arc")
_GRID_TYPES_NOT_REPRODUCED = ("condor", "ec2", "gce", "azure")


def _grid_resource(get: _Getter) -> str:
    """``grid_resource``, its type checked as condor_submit checks it."""
    text = (get("grid_resource") or "").strip()
    kind = text.split()[0].lower() if text else ""
    if kind in _GRID_TYPES_NOT_REPRODUCED:
        raise SubmitDescriptionError(f"grid_resource = {text}: grid type {kind!r} is not supported by condorexec "
                                     f"(it builds ads for {', '.join(_GRID_TYPES)})")
    if kind not in _GRID_TYPES:
        raise SubmitDescriptionError(f"grid_resource = {text}: Invalid value '{kind}' for grid type")
    return text


def _container_attrs(get: _Getter) -> _Attrs:
    """WantContainer, ContainerImage and its source: a ``docker://`` image or a local ``.sif`` file
    (condorexec reproduces those two; other image kinds are refused rather than guessed)."""
    image = (get("container_image") or "").strip()
    if not image:
        raise SubmitDescriptionError("universe = container: container jobs require a container_image")
    if image.startswith("docker://"):
        return {"WantContainer": "true", "ContainerImage": _s(image), "ContainerImageSource": _s("docker"),
                "WantDockerImage": "true"}
    if image.endswith(".sif"):
        return {"WantContainer": "true", "ContainerImage": _s(image), "ContainerImageSource": _s("local")}
    raise SubmitDescriptionError(f"container_image = {image}: condorexec takes a docker:// image or a .sif file")


#: condor_submit's JobLeaseDuration (seconds) for jobs that run away from the access point
_JOB_LEASE_DURATION = "2400"
