"""Plots people look at instead of reading numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


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
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
