"""Plots people look at instead of reading numbers.

Figures are ``matplotlib.figure.Figure`` objects saved straight to PNG: no
pyplot, so importing rnnjax never changes the user's matplotlib backend.

Inside ``figure_log(report_dir)`` (an experiment's report) every saved figure is
also logged to TensorBoard as an image: on the runs it belongs to (the ``runs``
a per-run plot is given), as the TensorBoard run ``<run dir>/figures``, else on
the experiment's own ``<report_dir>/figures``. Each report replaces the figure
events it wrote before, so a re-run report does not pile up copies.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Circle
from tensorboardX import SummaryWriter

FIGURES = "figures"


@dataclasses.dataclass
class FigureLog:
    """The figures one report saved (``paths``, in order) and its TensorBoard writers."""

    report_dir: Path
    paths: list[Path] = dataclasses.field(default_factory=list)
    writers: dict[Path, SummaryWriter] = dataclasses.field(default_factory=dict)

    def writer(self, log_dir: Path) -> SummaryWriter:
        if log_dir not in self.writers:
            shutil.rmtree(log_dir, ignore_errors=True)
            self.writers[log_dir] = SummaryWriter(str(log_dir))
        return self.writers[log_dir]

    def add(self, path: Path, runs: Sequence) -> None:
        self.paths.append(path)
        image = imread(path)  # float [H, W, 3 or 4] in 0..1
        image = (255 * image[..., :3]).astype(np.uint8) if image.dtype != np.uint8 else image[..., :3]
        try:
            tag = str(path.resolve().relative_to(self.report_dir.resolve()).with_suffix(""))
        except ValueError:
            tag = path.stem
        for log_dir in [Path(r.run_dir) / FIGURES for r in runs] or [self.report_dir / FIGURES]:
            self.writer(log_dir).add_image(tag, image, 0, dataformats="HWC")


_LOG: contextvars.ContextVar[FigureLog | None] = contextvars.ContextVar("rnnjax_figure_log", default=None)


@contextlib.contextmanager
def figure_log(report_dir: str | Path):
    """Within: figures saved by this module are listed and logged to TensorBoard (module docstring)."""
    log = FigureLog(Path(report_dir))
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)
        for writer in log.writers.values():
            writer.close()


def logged(path: Path, runs: Sequence = ()) -> Path:
    """Lists ``path`` (a written PNG) in the current report and logs it to TensorBoard; returns it."""
    log = _LOG.get()
    if log is not None:
        log.add(path, runs)
    return path


def subplots(nrows: int = 1, ncols: int = 1, **kw):
    """``(figure, axes)`` like ``pyplot.subplots``, without pyplot."""
    fig = Figure(figsize=kw.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kw)


def save_figure(fig: Figure, path: str | Path, runs: Sequence = ()) -> Path:
    """Writes ``fig`` as a PNG (creating folders); ``runs``: the runs it shows alone (none: the experiment's)."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return logged(path, runs)


def plot_state_traces(
    traces: Sequence[tuple[str, np.ndarray]], path: str | Path, *, xlabel: str = "position", boundaries=()
) -> Path:
    """One panel per ``(title, values: [T, units])``, one line per unit.

    ``boundaries``: positions to mark with vertical lines (e.g. where a^n ends).
    """
    fig, axes = subplots(len(traces), 1, figsize=(9, 3 * len(traces)), squeeze=False)
    for ax, (title, values) in zip(axes[:, 0], traces):
        ax.plot(np.asarray(values), linewidth=0.8)
        for b in boundaries:
            ax.axvline(b, color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    return save_figure(fig, path)


def plot_accuracy_by_n(runs: Sequence, path: str | Path, bins: int = 20) -> Path:
    """Fraction of correct n per bin of test n, per configuration: median over
    non-diverged seeds with the min-max band. Runs carry ``results["correct_by_n"]``."""
    groups: dict[str, list[np.ndarray]] = {}
    for r in runs:
        if "correct_by_n" in r.results and r.results.get("diverged_at") is None:
            name = " ".join(x for x in (r.results.get("arm", ""), r.results.get("label", "")) if x)
            groups.setdefault(name, []).append(np.array([c == "1" for c in r.results["correct_by_n"]], float))
    fig, ax = subplots(figsize=(8, 4.5))
    for name, curves in groups.items():
        n_max = min(len(c) for c in curves)
        edges = np.linspace(0, n_max, min(bins, n_max) + 1).astype(int)
        per_seed = np.array([[c[a:b].mean() for a, b in zip(edges[:-1], edges[1:])] for c in curves])
        centres = (edges[:-1] + edges[1:]) / 2 + 1
        (line,) = ax.plot(centres, np.median(per_seed, axis=0), label=f"{name} ({len(curves)} seeds)")
        ax.fill_between(centres, per_seed.min(axis=0), per_seed.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("test n")
    ax.set_ylabel("fraction of n correct (member accepted, near misses rejected)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def smoothed_curves(curves: Sequence[Sequence[tuple[float, float]]], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Members' ``(step, value)`` curves -> ``(steps: [S], values: [members, S])``: each curve averaged over
    windows of ``window`` points (at most the shortest curve's length), at the steps of the longest, NaN after
    a member's last point (a member that stopped early drops out of the median and band)."""
    curves = [np.asarray(c, float).reshape(-1, 2) for c in curves]
    window = max(1, min(window, min(len(c) for c in curves)))
    steps = max(curves, key=len)[window - 1:, 0]
    values = np.full((len(curves), len(steps)), np.nan)
    for row, curve in zip(values, curves):
        averaged = np.convolve(curve[:, 1], np.ones(window) / window, mode="valid")
        row[:len(averaged)] = averaged
    return steps, values


def plot_training_curves(runs: Sequence, path: str | Path, metric: str = "loss", *, smooth: int = 1,
                         panel: Callable[[str], str] | None = None) -> Path:
    """``metric`` against step per arm: median over the seeds still training with the
    min-max band (log scale); a dotted line marks each diverged member at its divergence step.
    ``smooth``: each member's curve is first averaged over windows of that many
    logged points (for one-example updates, whose per-step loss is mostly noise);
    ``panel``: arm -> panel title, one panel per title (else one panel)."""
    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r.results.get("arm", ""), []).append(r)
    titles = list(dict.fromkeys(panel(arm) for arm in groups)) if panel else [""]
    fig, axes = subplots(1, len(titles), figsize=(8 * len(titles) ** 0.5, 4.5), squeeze=False)
    for arm, members in groups.items():
        ax = axes[0, titles.index(panel(arm)) if panel else 0]
        steps, values = smoothed_curves([[(h["step"], h[metric]) for h in r.history] for r in members], smooth)
        with np.errstate(invalid="ignore"):
            (line,) = ax.plot(steps, np.nanmedian(values, axis=0), label=f"{arm} ({len(members)} seeds)")
            ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=line.get_color(),
                            alpha=0.2)
        for r in members:
            if r.results.get("diverged_at") is not None:
                ax.axvline(r.results["diverged_at"], color=line.get_color(), linestyle=":", linewidth=0.8)
    for ax, title in zip(axes[0], titles):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(f"training {metric}" + (f", mean of {smooth} logged points" if smooth > 1 else "")
                          + " (dotted: diverged)")
    return save_figure(fig, path)


def plot_memory_actions(
    symbols: Sequence[str], actions: dict[str, np.ndarray], depth: np.ndarray, path: str | Path, *, title: str = "",
    runs: Sequence = (),
) -> Path:
    """What a memory-augmented model does along one input: action strengths
    (``name -> [T]``, e.g. push and pop) above, the memory's depth (total
    strength held) below, with the input symbols along the x axis."""
    positions = np.arange(len(symbols))
    fig, (top, bottom) = subplots(2, 1, figsize=(max(8, 0.18 * len(symbols)), 5), sharex=True)
    for name, values in actions.items():
        top.plot(positions, np.asarray(values), marker=".", linewidth=1, label=name)
    top.set_ylim(-0.05, 1.05)
    top.set_ylabel("strength")
    top.legend(fontsize=8, loc="upper right")
    top.set_title(title)
    bottom.bar(positions, np.asarray(depth), color="grey")
    bottom.set_ylabel("depth (sum of strengths)")
    bottom.set_xticks(positions, list(symbols), fontsize=6, rotation=90)
    bottom.set_xlabel("input symbol")
    return save_figure(fig, path, runs)


def plot_head_weights(symbols: Sequence[str], heads: dict[str, np.ndarray], path: str | Path, *,
                      title: str = "", runs: Sequence = ()) -> Path:
    """Which slot each head of an addressed memory (NTM) reads or writes along one
    input: one heat map per head (``name -> weights [T, N]``), slots up, the input
    symbols along the x axis."""
    positions = np.arange(len(symbols))
    fig, axes = subplots(len(heads), 1, figsize=(max(8, 0.18 * len(symbols)), 2.2 * len(heads) + 0.5), sharex=True,
                         squeeze=False)
    for ax, (name, weights) in zip(axes[:, 0], heads.items()):
        ax.imshow(np.asarray(weights).T, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_ylabel(f"{name}\nslot")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xticks(positions, list(symbols), fontsize=6, rotation=90)
    axes[-1, 0].set_xlabel("input symbol")
    return save_figure(fig, path, runs)


def render_dfa(dfa, path: str | Path, name: str = "dfa", runs: Sequence = ()) -> Path:
    """Writes ``path`` (.png) of an ``automata.DFA`` with Graphviz ``dot`` when installed,
    else with matplotlib (states on a circle); the ``.dot`` source goes beside it.
    ``runs``: the runs it was extracted from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".dot").write_text(dfa.to_dot(name))
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tpng", str(path.with_suffix(".dot")), "-o", str(path)], check=True)
        return logged(path, runs)
    angles = 2 * np.pi * np.arange(dfa.size) / max(dfa.size, 1)
    xy = np.stack([np.cos(angles), np.sin(angles)], 1) * (dfa.size > 1)
    fig, ax = subplots(figsize=(1.5 + dfa.size, 1.5 + dfa.size))
    for q in range(dfa.size):
        for a, symbol in enumerate(dfa.alphabet):
            r = int(dfa.transitions[q, a])
            if r == q:
                ax.annotate(symbol, xy[q] * 1.25, ha="center", fontsize=9)
                continue
            ax.annotate("", xy[r], xy[q], arrowprops=dict(arrowstyle="->", connectionstyle=f"arc3,rad={0.1 + 0.1 * a}"))
            ax.annotate(symbol, (xy[q] + xy[r]) / 2 + 0.08 * (a + 1), fontsize=9)
    for q in range(dfa.size):
        ax.add_patch(Circle(xy[q], 0.12, fill=False, lw=2 if dfa.accepting[q] else 1))
        ax.annotate(("> " if q == dfa.start else "") + str(q), xy[q], ha="center", va="center")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{name} (thick circle: accepting; > start)")
    return save_figure(fig, path, runs)
