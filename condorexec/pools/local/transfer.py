"""HTCondor's file-transfer rules the local pool applies in more than one place: reading the transfer
lists and remaps of a job ad, naming where a returned file goes, and copying it there.

Output is delivered twice over in the local pool: from a finished job's sandbox to its Iwd (the
shadow's part), and, for a job submitted with ``-spool``, from the spool to the submitter's directory
when ``condorexec transfer-data`` asks (the schedd's part). Both name targets and copy with these
functions, so a remap or a missing directory means the same thing on either path.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from collections.abc import Iterable
from pathlib import Path

#: errors of a write that ran out of space or hit a bad disk: the partial target is removed
_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def split_list(value: object) -> list[str]:
    """A comma-separated transfer list (``TransferInput``, ``TransferOutput``) as its entries."""
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def parse_remaps(value: object) -> dict[str, str]:
    """``TransferOutputRemaps``: ``name = target; name2 = target2``, where a backslash makes the next
    character (``;``, ``=`` or ``\\``) literal, as condor_submit escapes them when it remaps
    ``output``/``error`` for a spooled job."""
    remaps: dict[str, str] = {}
    name: list[str] = []
    target: list[str] = []
    current, seen_eq = name, False
    chars = iter(str(value or ""))
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == "=" and not seen_eq:
            current, seen_eq = target, True
        elif ch == ";":
            if seen_eq:
                remaps["".join(name).strip()] = "".join(target).strip()
            name, target = [], []
            current, seen_eq = name, False
        else:
            current.append(ch)
    if seen_eq:
        remaps["".join(name).strip()] = "".join(target).strip()
    return remaps


def returned_name(name: str) -> str:
    """The name a listed output arrives under: ``a/b.txt`` arrives as ``b.txt`` (HTCondor without
    ``preserve_relative_paths``)."""
    return Path(name.rstrip("/")).name


def output_target(name: str, remaps: dict[str, str], iwd: Path) -> Path:
    """Where the output listed as ``name`` goes: its remap (by the listed name, else by the name it
    arrives under), else that name, relative to ``iwd`` unless absolute."""
    base = returned_name(name)
    target = Path(remaps.get(name, remaps.get(base, base)))
    return target if target.is_absolute() else iwd / target


def copy_files(copies: Iterable[tuple[Path, Path]]) -> tuple[Path, OSError] | None:
    """Copy each (source, target), files or whole directories, making missing parent directories
    (0700) where possible as HTCondor's shadow does; stops at the first failure and returns
    (target, error)."""
    for source, target in copies:
        with contextlib.suppress(OSError):
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
            else:
                shutil.copyfile(source, target)
        except OSError as exc:
            # a partial copy is a wrong file, and takes the space a full disk lacks
            if exc.errno in _DISK_ERRORS and not source.is_dir():
                with contextlib.suppress(OSError):
                    target.unlink()
            return target, exc
    return None
