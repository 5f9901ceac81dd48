"""Tables of run results: markdown for reading, CSV for tools."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnjax.eval.plots import plot_accuracy_by_n


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_table(rows: Sequence[dict], columns: Sequence[str], path_stem: str | Path) -> str:
    """Writes ``<stem>.md`` and ``<stem>.csv``; returns the markdown."""
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    text = markdown_table(rows, columns)
    path_stem.with_suffix(".md").write_text(text + "\n")
    with path_stem.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: row.get(c) for c in columns} for row in rows)
    return text


# Results fields that describe a run rather than measure it.
BOOKKEEPING = {"seed", "label", "arm", "diverged_at", "stopped_at", "steps_per_second", "population", "process",
               "correct_by_n"}
MEMBER_HPARAMS = {"learning_rate", "clip_norm"}


def _lower_is_better(metric: str) -> bool:
    return metric.endswith(("loss", "cross_entropy_difference"))


def summarise(runs: Sequence) -> list[dict]:
    """Per configuration (arm + grid label): seeds, diverged count, and the median
    and best over non-diverged seeds of every numeric metric."""
    groups: dict[tuple[str, str], list] = {}
    for r in runs:
        groups.setdefault((r.results.get("arm", ""), r.results.get("label", "")), []).append(r)
    rows = []
    for (arm, label), members in groups.items():
        alive = [r.results for r in members if r.results.get("diverged_at") is None]
        row = {"arm": arm, "label": label, "seeds": len(members), "diverged": len(members) - len(alive)}
        grid = {k.partition("=")[0] for k in label.split(",")}
        for metric in (m for m in _metrics(members) if m not in grid):
            values = [v[metric] for v in alive if isinstance(v.get(metric), (int, float))]
            if values:
                best = min(values) if _lower_is_better(metric) else max(values)
                row |= {f"{metric} median": float(np.median(values)), f"{metric} best": best}
        rows.append(row)
    return rows


def _metrics(runs: Sequence) -> list[str]:
    keys = dict.fromkeys(k for r in runs for k, v in r.results.items() if isinstance(v, (int, float)))
    return [k for k in keys if k not in BOOKKEEPING and k not in MEMBER_HPARAMS and not k.endswith("seconds")]


def write_sweep_report(runs: Sequence, out_dir: str | Path) -> str:
    """Per-run and per-configuration tables (markdown + CSV) and, where runs
    carry ``correct_by_n``, a plot of accuracy against test n with seed spread."""
    out_dir = Path(out_dir)
    per_run = [{"arm": r.results.get("arm", ""), "label": r.results.get("label", ""), "seed": r.config.run.seed} | {
        k: v for k, v in r.results.items()
        if k not in ("arm", "label", "seed", "correct_by_n") and not isinstance(v, list)
    } for r in runs]
    columns = list(dict.fromkeys(k for row in per_run for k in row))
    summary = summarise(runs)
    text = "Per run\n" + write_table(per_run, columns, out_dir / "runs")
    summary_columns = list(dict.fromkeys(k for row in summary for k in row))
    text += "\n\nPer configuration (median/best over non-diverged seeds)\n"
    text += write_table(summary, summary_columns, out_dir / "summary")
    if any("correct_by_n" in r.results for r in runs):
        text += f"\n\nAccuracy against test n: {plot_accuracy_by_n(runs, out_dir / 'accuracy_vs_n.png')}"
    return text
