"""``condor_submit -dry-run``'s text: job ads printed as it prints them (ClusterId first, ProcId and
JobStatus last, later procs as their differences from the first)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import classad2


def _order(name: str) -> tuple[int, int, str]:
    if name == "ClusterId":
        return (0, 0, "")
    if name in ("ProcId", "JobStatus"):
        return (2, 0 if name == "ProcId" else 1, "")
    return (1, len(name), name.lower())


def _ad_lines(ad: classad2.ClassAd) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ad.printOld().split("\n"):  # not splitlines: a value may hold a \x0b (corpus c103)
        name, sep, value = line.partition(" = ")
        if sep:
            out[name] = value
    return out


def job_ad_text(ad: classad2.ClassAd) -> str:
    """``Attr=Value`` lines in condor_submit -dry-run's order (ClusterId first, ProcId/JobStatus last)."""
    lines = _ad_lines(ad)
    return "".join(f"{k}={lines[k]}\n" for k in sorted(lines, key=_order))


def dry_run_blocks(ads: Iterable[classad2.ClassAd]) -> Iterator[str]:
    """``condor_submit -dry-run FILE``'s text, a piece per proc as the ads come: the first ad in full,
    then per proc only what differs (ProcId and JobStatus always), each block after a blank line."""
    first: dict[str, str] | None = None
    for ad in ads:
        lines = _ad_lines(ad)
        if first is None:
            first = lines
            yield "\n" + job_ad_text(ad)
            continue
        keep = {k: v for k, v in lines.items() if k in ("ProcId", "JobStatus") or first.get(k) != v}
        yield "\n" + "".join(f"{k}={keep[k]}\n" for k in sorted(keep, key=_proc_order))


def dry_run_text(ads: Iterable[classad2.ClassAd]) -> str:
    """The whole ``condor_submit -dry-run FILE`` text (:func:`dry_run_blocks`, joined)."""
    return "".join(dry_run_blocks(ads)) or "\n"


def _proc_order(name: str) -> tuple[int, int, str]:
    if name in ("ProcId", "JobStatus"):
        return (0, 0 if name == "ProcId" else 1, "")
    return (1, len(name), name.lower())
