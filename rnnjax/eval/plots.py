"""Plots people look at instead of reading numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Writes ``fig`` as a PNG (creating folders) and closes it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_state_traces(
    traces: Sequence[tuple[str, np.ndarray]], path: str | Path, *, xlabel: str = "position", boundaries=()
) -> Path:
    """One panel per ``(title, values: [T, units])``, one line per unit.

    ``boundaries``: positions to mark with vertical lines (e.g. where a^n ends).
    """
    fig, axes = plt.subplots(len(traces), 1, figsize=(9, 3 * len(traces)), squeeze=False)
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
    fig, ax = plt.subplots(figsize=(8, 4.5))
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


def plot_training_curves(runs: Sequence, path: str | Path, metric: str = "loss") -> Path:
    """``metric`` against step per arm: median over seeds with the min-max band
    (log scale); a cross marks each diverged member at its divergence step."""
    groups: dict[str, list] = {}
    for r in runs:
        groups.setdefault(r.results.get("arm", ""), []).append(r)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for arm, members in groups.items():
        curves = [[(h["step"], h[metric]) for h in r.history] for r in members]
        length = min(len(c) for c in curves)
        steps = np.array([s for s, _ in curves[0][:length]])
        values = np.array([[v for _, v in c[:length]] for c in curves])
        with np.errstate(invalid="ignore"):
            (line,) = ax.plot(steps, np.nanmedian(values, axis=0), label=f"{arm} ({len(members)} seeds)")
            ax.fill_between(steps, np.nanmin(values, axis=0), np.nanmax(values, axis=0), color=line.get_color(), alpha=0.2)
        for r in members:
            if r.results.get("diverged_at") is not None:
                ax.axvline(r.results["diverged_at"], color=line.get_color(), linestyle=":", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training {metric} (dotted: a member diverged)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_memory_actions(
    symbols: Sequence[str], actions: dict[str, np.ndarray], depth: np.ndarray, path: str | Path, *, title: str = ""
) -> Path:
    """What a memory-augmented model does along one input: action strengths
    (``name -> [T]``, e.g. push and pop) above, the memory's depth (total
    strength held) below, with the input symbols along the x axis."""
    positions = np.arange(len(symbols))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, 0.18 * len(symbols)), 5), sharex=True)
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
    return save_figure(fig, path)
