"""What autolabel has learned, explained for people: a plain-text table and a plot (``condorexec labels``).

The point is to make every label decision inspectable: how many jobs it rests on, whether the
category is still learning, what the largest job used, and roughly how much memory the label
wastes, so that a user can tell a good label from one that needs a hand-given value.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from condorexec.autorule import SHORT_FACTOR, auto_choice
from condorexec.condorfacts import SCHEDD_JOB_START_SECONDS
from condorexec.labels.learning import Tally, learns_from
from condorexec.labels.policy import (
    BUCKET_SIZE,
    RESOURCES,
    AllocationMode,
    Histogram,
    Label,
    Maximum,
    choose_label,
    round_up,
    wanted_allocation,
)
from condorexec.labels.store import LabelStore, Sample

#: how each resource's amounts are written in notes and plots
UNIT = {"cores": "cores", "memory": "MB", "disk": "MB"}


@dataclass(frozen=True)
class Clip:
    """A resource whose learned size is above what this pool's largest machine has.

    ``what`` is ``"learned"`` when the label itself was cut down to the maximum (jobs get less than
    the histogram asks for), ``"max seen"`` when only some job's usage is above it (a job like that
    one cannot run here: its retry at the maximum would run out again)."""

    resource: str
    what: str
    value: float
    largest: int

    def __str__(self) -> str:
        unit = UNIT[self.resource]
        return f"{self.resource} clipped: {self.what} {_fmt(self.value)} {unit} > largest machine {self.largest} {unit}"


def clipping(hists: Mapping[str, Histogram], mode: AllocationMode, maximum: Maximum, *,
             learning: bool) -> list[Clip]:
    """Which resources of a category are clipped to ``maximum``, in resource order (at most one each).

    The label is clipped when the allocation the histogram asks for (before the cap) is above the
    maximum rounded up to its bucket — rounding within the last bucket is not worth a notice. While
    the category is learning there is no label, so only the maximum seen is compared."""
    mode = AllocationMode(mode)
    clips = []
    for r in RESOURCES:
        cap = getattr(maximum, r)
        hist = hists[r]
        wanted = None if learning or mode is AllocationMode.FIXED else wanted_allocation(hist, mode, cap)
        if wanted is not None and wanted > round_up(r, cap):
            clips.append(Clip(r, "learned", wanted, cap))
        elif hist.max_seen > cap:
            clips.append(Clip(r, "max seen", hist.max_seen, cap))
    return clips


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def staleness_note(code_changed_at: float | None, steady: bool) -> str | None:
    """What the table says about a category whose app's code changed (None if it never did)."""
    if code_changed_at is None:
        return None
    if steady:
        return f"learned anew since {_when(code_changed_at)}: the app's code changed"
    return f"re-learning since {_when(code_changed_at)}: the app's code changed"


@dataclass(frozen=True)
class CategoryReport:
    """One category's row: counts, learning state, label, maxima, the memory waste estimate, and the
    notes: whether the app's code changed (the category started over) and which resources are clipped."""

    category: str
    samples: int
    completions: int
    steady: bool
    label: Label
    max_seen: dict[str, float]
    memory_waste: float | None  # fraction of the memory allocated (MB x s) that jobs did not use
    wall_s: float | None  # mean wall time of the recent completed calls
    code_changed_at: float | None = None  # when the app's code last changed (the category started over)
    clips: tuple[Clip, ...] = field(default_factory=tuple)

    @property
    def notes(self) -> list[str]:
        stale = staleness_note(self.code_changed_at, self.steady)
        return ([stale] if stale else []) + [str(c) for c in self.clips]


def memory_waste(hist: Histogram, label_mb: int | None, maximum_mb: int) -> float | None:
    """Estimated fraction of allocated memory·time left unused if every job learned so far ran again.

    Each bucket stands for its jobs at the bucket's midpoint usage. A job that fits the label is
    allocated label x wall; one that does not is charged for a failed first attempt at the label plus
    a retry at the maximum (Work Queue's model behind min-waste: a·τ + a_m·R). While learning, every job
    gets the maximum. None when there is no wall time to weigh by."""
    allocation = label_mb if label_mb is not None else maximum_mb
    half = BUCKET_SIZE["memory"] / 2
    used = allocated = 0.0
    for b in hist.buckets:
        used += max(b.value - half, 0.0) * b.wall_s
        allocated += (allocation if b.value <= allocation else allocation + maximum_mb) * b.wall_s
    if allocated <= 0:
        return None
    return max(0.0, 1.0 - used / allocated)


def category_reports(
    store: LabelStore, mode: AllocationMode, maximum: Maximum, window: int
) -> list[CategoryReport]:
    """The facts behind each category's label, in name order."""
    reports = []
    for category in store.categories():
        hists = store.histograms(category)
        label = store.label(category, mode, maximum, window)
        steady = store.in_steady_state(category, window)
        reports.append(CategoryReport(
            category=category,
            samples=store.sample_count(category),
            completions=store.completions(category),
            steady=steady,
            label=label,
            max_seen={r: hists[r].max_seen for r in RESOURCES},
            memory_waste=memory_waste(hists["memory"], label.memory, maximum.memory),
            wall_s=store.mean_wall(category),
            code_changed_at=store.code_changed_at(category),
            clips=tuple(clipping(hists, mode, maximum, learning=not steady)),
        ))
    return reports


def _fmt(value: float | None, *, none: str = "max") -> str:
    if value is None:
        return none
    return f"{value:.0f}" if float(value).is_integer() or value >= 10 else f"{value:.2f}"


def labels_table(store: LabelStore, mode: AllocationMode, maximum: Maximum, window: int, *,
                 job_start_seconds: float = SCHEDD_JOB_START_SECONDS, pool: str = "a schedd") -> str:
    """An aligned plain-text table, one row per category. Units: cores, MB, MB; "max" means the
    category still learns and its jobs ask for the maximum. ``mode="auto"``'s choice (the header's
    threshold and the "auto mode" column) is the one it makes on ``pool``, whose job start costs
    ``job_start_seconds`` (``PoolProfile.job_start_seconds``)."""
    mode = AllocationMode(mode)
    header = ["category", "samples", "done", "state", "cores", "memory", "disk",
              "max cores", "max memory", "max disk", "mem waste", "wall s", "auto mode", "notes"]
    rows = []
    for rep in category_reports(store, mode, maximum, window):
        rows.append([
            rep.category, str(rep.samples), str(rep.completions), "steady" if rep.steady else "learning",
            _fmt(rep.label.cores), _fmt(rep.label.memory), _fmt(rep.label.disk),
            _fmt(rep.max_seen["cores"]), _fmt(rep.max_seen["memory"]), _fmt(rep.max_seen["disk"]),
            "-" if rep.memory_waste is None else f"{rep.memory_waste:.0%}",
            _fmt(rep.wall_s, none="-"),
            (auto_choice(rep.wall_s, job_start_seconds) or "per_call first").replace("_", "-"),
            "; ".join(rep.notes) or "-",
        ])
    title = (f"autolabel ({mode.value}, window {window}; maximum {maximum.cores} cores, "
             f"{maximum.memory} MB memory, {maximum.disk} MB disk) from {store.path}\n"
             f"auto mode on {pool}: workers for calls under {SHORT_FACTOR * job_start_seconds:g} s "
             "(each in a slot worker beside calls of other sizes: see 'Slot workers' in the documentation)")
    if not rows:
        return f"{title}\nno categories learned yet\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # the name and the notes left-aligned, numbers right-aligned
        last = len(cells) - 1
        return "  ".join(c.ljust(w) if i in (0, last) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([title, line(header), *(line(r) for r in rows)]) + "\n"


@dataclass(frozen=True)
class LabelStep:
    """The label after one more sample was learned, and when it was known (the latest completion
    time of the samples learned so far: samples are learned in the order they were stored)."""

    at: float
    label: Label
    steady: bool


def replay_labels(samples: Iterable[Sample], mode: AllocationMode, maximum: Maximum, window: int, *,
                  since: float | None = None) -> list[LabelStep]:
    """The label as it was after each sample: the samples folded in memory with the store's own rule
    (:mod:`condorexec.labels.learning`, which :meth:`LabelStore.add_samples` and :meth:`LabelStore.label`
    apply to its SQLite state).

    The label is computed at the completion that starts each new epoch (Work Queue's moment; the store
    computes it when it is next asked, so this is the label of a store asked after every sample, as a
    running executor asks it). Samples that completed before ``since`` (the app's code changed then)
    are skipped, as the store skips them. Pure: no store, so the plot and the tests can replay any list."""
    mode = AllocationMode(mode)
    tally = Tally()
    label, epoch, known = Label(None, None, None), None, -math.inf
    steps = []
    for s in samples:
        if not learns_from(s, since):
            continue
        known = max(known, s.completed_at)
        tally.add(s)
        where = tally.progress(window)
        if where.asks_maximum(mode):
            label = Label(None, None, None)
        elif where.epoch != epoch:
            epoch = where.epoch
            label = choose_label(tally.histograms(), mode, maximum, window)
        steps.append(LabelStep(known, label, where.steady))
    return steps


#: the resources the plot draws, each as a histogram panel and a label-over-time panel
PLOT_RESOURCES = ("memory", "cores")


def _histogram_panel(ax, rep: CategoryReport, hist: Histogram, resource: str, maximum: Maximum) -> None:
    b = BUCKET_SIZE[resource]
    unit = UNIT[resource]
    ax.bar([x.value for x in hist.buckets], [x.count for x in hist.buckets], width=-b * 0.9,
           align="edge", color="tab:blue", label=f"jobs per {b} {unit} bucket")
    largest = getattr(maximum, resource)
    value = getattr(rep.label, resource)
    shown = value if value is not None else largest
    state = "learning: maximum" if value is None else f"label {_fmt(shown)} {unit}"
    right = max([x.value for x in hist.buckets] + [rep.max_seen[resource], b]) * 1.15
    if value is not None or shown <= 4 * right:
        ax.axvline(shown, color="tab:green", linewidth=2, label=state)
        right = max(right, shown * 1.05)
    else:  # the maximum would squash the histogram: say it instead of drawing it
        ax.plot([], [], color="tab:green", linewidth=2, label=f"{state} ({_fmt(shown)} {unit})")
    ax.axvline(rep.max_seen[resource], color="tab:red", linestyle="--",
               label=f"max seen {_fmt(rep.max_seen[resource])} {unit}")
    ax.set_xlabel(f"peak {resource} ({unit})")
    ax.set_ylabel("jobs")
    ax.set_xlim(0, right)
    ax.set_ylim(0, max([x.count for x in hist.buckets] + [1]) * 1.6)  # room for the legend above the bars
    ax.legend(fontsize=7, loc="upper right")


def _over_time_panel(ax, rep: CategoryReport, samples: list[Sample], steps: list[LabelStep], resource: str,
                     maximum: Maximum) -> None:
    from datetime import datetime

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    unit = UNIT[resource]
    largest = getattr(maximum, resource)
    since = rep.code_changed_at if rep.code_changed_at is not None else -math.inf
    groups = (("old code", lambda s: s.completed_at < since, "0.6", "."),
              ("completed", lambda s: s.completed_at >= since and s.exhausted is None, "tab:blue", "."),
              ("exhausted", lambda s: s.completed_at >= since and s.exhausted is not None, "tab:red", "x"))
    for name, keep, color, marker in groups:
        chosen = [s for s in samples if keep(s)]
        if chosen:
            ax.scatter([datetime.fromtimestamp(s.completed_at) for s in chosen], [s.usage(resource) for s in chosen],
                       s=12, color=color, marker=marker, label=f"{name} job peak", zorder=3)
    if steps:
        xs = [datetime.fromtimestamp(steps[0].at)] + [datetime.fromtimestamp(st.at) for st in steps]
        ys = [largest] + [getattr(st.label, resource) or largest for st in steps]
        ax.step(xs, ys, where="post", color="tab:green", linewidth=2, label="label (maximum while learning)")
    ax.axhline(largest, color="0.4", linestyle=":", linewidth=1, label=f"largest machine {largest} {unit}")
    if rep.code_changed_at is not None:
        ax.axvline(datetime.fromtimestamp(rep.code_changed_at), color="tab:purple", linestyle="--",
                   label="app's code changed")
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_ylabel(f"{resource} ({unit})")  # the x axis is dates: the formatter's offset says which day
    if resource == "cores":
        ax.set_ylim(0, largest * 1.15)
    else:  # MB: a log scale keeps the maximum a learning job asks for and 100 MB jobs both readable
        positive = [s.usage(resource) for s in samples if s.usage(resource) > 0]
        ax.set_yscale("log", nonpositive="clip")
        ax.set_ylim(max(1.0, min(positive + [largest]) / 2), largest * 2)
    ax.legend(fontsize=7, loc="upper right")


def labels_figure(store: LabelStore, mode: AllocationMode, maximum: Maximum, window: int):
    """A matplotlib Figure (Agg, no pyplot state): one row per category; for memory and then cores,
    the histogram with the label and the maximum seen, and the label over time (the kept samples
    replayed by :func:`replay_labels`) with each job's peak."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plotting labels needs matplotlib: pip install 'condorexec[plot]'") from e
    mode = AllocationMode(mode)
    reports = category_reports(store, mode, maximum, window)
    n = max(1, len(reports))
    if not reports:
        fig = Figure(figsize=(7, 2.6), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no categories learned yet", ha="center", va="center")
        ax.set_axis_off()
        return fig
    fig = Figure(figsize=(4.2 * 2 * len(PLOT_RESOURCES), 3.2 * n), layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(f"autolabel ({mode.value}, window {window}; largest machine {maximum.cores} cores, "
                 f"{maximum.memory} MB) from {store.path.name}", fontsize=11)
    grid = fig.subplots(n, 2 * len(PLOT_RESOURCES), squeeze=False)
    for row, rep in zip(grid, reports, strict=True):
        hists = store.histograms(rep.category)
        samples = store.recent_samples(rep.category)
        steps = replay_labels(samples, mode, maximum, window, since=rep.code_changed_at)
        learned_from = [s for s in samples if rep.code_changed_at is None or s.completed_at >= rep.code_changed_at]
        for k, resource in enumerate(PLOT_RESOURCES):
            hist_ax, time_ax = row[2 * k], row[2 * k + 1]
            _histogram_panel(hist_ax, rep, hists[resource], resource, maximum)
            clipped = [str(c) for c in rep.clips if c.resource == resource]
            if k == 0:
                waste = "" if rep.memory_waste is None else f", ~{rep.memory_waste:.0%} memory unused"
                title = f"{rep.category}: {rep.completions} completed, {rep.samples - rep.completions} exhausted{waste}"
            else:
                title = f"{rep.category}: {resource}"
            hist_ax.set_title("\n".join([title, *clipped]), fontsize=9,
                              color="tab:red" if clipped else "black")
            _over_time_panel(time_ax, rep, samples, steps, resource, maximum)
            partial = len(learned_from) < rep.samples
            stale = staleness_note(rep.code_changed_at, rep.steady) if k == 0 else None
            time_ax.set_title("\n".join([f"{rep.category}: {resource} label over time"
                                         + (f" (replayed from the last {len(learned_from)} samples)" if partial
                                            else ""), *([stale] if stale else [])]), fontsize=9)
    return fig


def plot_labels(store: LabelStore, path: str | os.PathLike, mode: AllocationMode, maximum: Maximum,
                window: int) -> Path:
    """Write :func:`labels_figure` as an image (format from the suffix, e.g. ``.png``); returns the path."""
    fig = labels_figure(store, mode, maximum, window)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
