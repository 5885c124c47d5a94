"""What autolabel has learned, for people: a plain-text table and a plot (``condorexec labels``).

The point is to make every label decision inspectable: how many jobs it rests on, whether the
category is still learning, what the largest job used, and roughly how much memory the label
wastes, so that a user can tell a good label from one that needs a hand-given value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from condorexec.condorfacts import SCHEDD_JOB_START_SECONDS
from condorexec.core.modes import SHORT_FACTOR, auto_choice
from condorexec.labels.policy import BUCKET_SIZE, RESOURCES, AllocationMode, Histogram, Label, Maximum
from condorexec.labels.store import LabelStore


@dataclass(frozen=True)
class CategoryReport:
    """One category's row: counts, learning state, label, maxima and the memory waste estimate."""

    category: str
    samples: int
    completions: int
    steady: bool
    label: Label
    max_seen: dict[str, float]
    memory_waste: float | None  # fraction of the memory allocated (MB x s) that jobs did not use
    wall_s: float | None  # mean wall time of the recent completed calls


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
        reports.append(CategoryReport(
            category=category,
            samples=store.sample_count(category),
            completions=store.completions(category),
            steady=store.in_steady_state(category, window),
            label=label,
            max_seen={r: hists[r].max_seen for r in RESOURCES},
            memory_waste=memory_waste(hists["memory"], label.memory, maximum.memory),
            wall_s=_mean_wall(store, category),
        ))
    return reports


def _mean_wall(store: LabelStore, category: str) -> float | None:
    walls = [s.wall_s for s in store.recent_samples(category, 20) if s.exhausted is None]
    return sum(walls) / len(walls) if walls else None


def _fmt(value: float | None, *, none: str = "max") -> str:
    if value is None:
        return none
    return f"{value:.0f}" if float(value).is_integer() or value >= 10 else f"{value:.2f}"


def labels_table(store: LabelStore, mode: AllocationMode, maximum: Maximum, window: int) -> str:
    """An aligned plain-text table, one row per category. Units: cores, MB, MB; "max" means the
    category still learns and its jobs ask for the maximum."""
    mode = AllocationMode(mode)
    header = ["category", "samples", "done", "state", "cores", "memory", "disk",
              "max cores", "max memory", "max disk", "mem waste", "wall s", "auto mode"]
    rows = []
    for rep in category_reports(store, mode, maximum, window):
        rows.append([
            rep.category, str(rep.samples), str(rep.completions), "steady" if rep.steady else "learning",
            _fmt(rep.label.cores), _fmt(rep.label.memory), _fmt(rep.label.disk),
            _fmt(rep.max_seen["cores"]), _fmt(rep.max_seen["memory"]), _fmt(rep.max_seen["disk"]),
            "-" if rep.memory_waste is None else f"{rep.memory_waste:.0%}",
            _fmt(rep.wall_s, none="-"),
            (auto_choice(rep.wall_s, SCHEDD_JOB_START_SECONDS) or "per_call first").replace("_", "-"),
        ])
    title = (f"autolabel ({mode.value}, window {window}; maximum {maximum.cores} cores, "
             f"{maximum.memory} MB memory, {maximum.disk} MB disk) from {store.path}\n"
             f"auto mode on a schedd: workers for calls under {SHORT_FACTOR * SCHEDD_JOB_START_SECONDS:g} s "
             "(docs/workers.md)")
    if not rows:
        return f"{title}\nno categories learned yet\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # the name left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                           strict=True)))

    return "\n".join([title, line(header), *(line(r) for r in rows)]) + "\n"


def labels_figure(store: LabelStore, mode: AllocationMode, maximum: Maximum, window: int):
    """A matplotlib Figure (Agg, no pyplot state) with one memory-histogram panel per category."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plotting labels needs matplotlib: pip install 'condorexec[plot]'") from e
    reports = category_reports(store, mode, maximum, window)
    n = max(1, len(reports))
    fig = Figure(figsize=(7, 2.6 * n), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    if not reports:
        axes[0].text(0.5, 0.5, "no categories learned yet", ha="center", va="center")
        axes[0].set_axis_off()
        return fig
    b = BUCKET_SIZE["memory"]
    for ax, rep in zip(axes, reports, strict=True):
        hist = store.histograms(rep.category)["memory"]
        ax.bar([x.value for x in hist.buckets], [x.count for x in hist.buckets], width=-b * 0.9,
               align="edge", color="tab:blue", label="jobs per 250 MB bucket")
        label_mb = rep.label.memory if rep.label.memory is not None else maximum.memory
        state = "learning: maximum" if rep.label.memory is None else f"label {label_mb} MB"
        right = max([x.value for x in hist.buckets] + [rep.max_seen["memory"], b]) * 1.15
        if rep.label.memory is not None or label_mb <= 4 * right:
            ax.axvline(label_mb, color="tab:green", linewidth=2, label=state)
            right = max(right, label_mb * 1.05)
        else:  # the maximum would squash the histogram: say it instead of drawing it
            ax.plot([], [], color="tab:green", linewidth=2, label=f"{state} ({label_mb} MB)")
        ax.axvline(rep.max_seen["memory"], color="tab:red", linestyle="--",
                   label=f"max seen {rep.max_seen['memory']:.0f} MB")
        waste = "" if rep.memory_waste is None else f", ~{rep.memory_waste:.0%} memory unused"
        ax.set_title(f"{rep.category}: {rep.completions} completed, {rep.samples - rep.completions} "
                     f"exhausted{waste}", fontsize=10)
        ax.set_xlabel("peak memory (MB)")
        ax.set_ylabel("jobs")
        ax.set_xlim(0, right)
        ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_labels(store: LabelStore, path: str | os.PathLike, mode: AllocationMode, maximum: Maximum,
                window: int) -> Path:
    """Write :func:`labels_figure` as an image (format from the suffix, e.g. ``.png``); returns the path."""
    fig = labels_figure(store, mode, maximum, window)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
