"""Tables of run results: the compact, paper-style table an experiment declares, the
full per-run and per-configuration tables, as markdown for reading and CSV for tools.

A compact table (``Table``) has one row per group of runs (by default an arm and its
grid point) and one cell per declared metric: ``median (min..max)`` over the seeds that
did not diverge, a single number where the seeds agree (e.g. a majority baseline), or
``best / median`` for tables that, like benchmark papers, report a sweep's best run.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

# Results fields that describe a run rather than measure it.
BOOKKEEPING = {"seed", "label", "arm", "diverged_at", "stopped_at", "steps_per_second", "population", "process",
               "layout", "config_id", "correct_by_n"}
MEMBER_HPARAMS = {"learning_rate", "clip_norm"}


def cell_text(value) -> str:
    """A table cell: floats to four significant figures, None empty."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell_text(row.get(c)).replace("|", "\\|") for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_table(rows: Sequence[dict], columns: Sequence[str] | None, path_stem: str | Path) -> str:
    """Writes ``<stem>.md`` and ``<stem>.csv``; returns the markdown. ``columns``: None for
    every field of the rows, in order of first appearance."""
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    text = markdown_table(rows, columns)
    path_stem.with_suffix(".md").write_text(text + "\n")
    with path_stem.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: row.get(c) for c in columns} for row in rows)
    return text


def lower_is_better(metric: str) -> bool:
    return metric.endswith(("loss", "cross_entropy_difference"))


def alive(run) -> bool:
    return run.results.get("diverged_at") is None


def measured(runs: Sequence, metric: str) -> list[float]:
    """``metric`` of every run of ``runs`` whose results give it a number."""
    return [float(r.results[metric]) for r in runs if isinstance(r.results.get(metric), (int, float))]


def by_arm(run) -> dict:
    """Row fields of a run: its arm and, in a sweep, its grid point."""
    label = run.results.get("label", "")
    return {"arm": run.results.get("arm", "")} | ({"grid": label} if label else {})


def by_task_and_model(run) -> dict:
    """Row fields of a ``<task>-<model>`` arm: the task and the model apart."""
    fields = by_arm(run)
    task, _, model = fields.pop("arm").partition("-")
    return {"task": task, "model": model} | fields


@dataclasses.dataclass(frozen=True)
class Table:
    """The compact table of an experiment: the few columns its claim needs.

    Attributes:
      columns: ``(heading, results field)`` per metric.
      rows: run -> the fields naming its row, in order (``by_arm``, ``by_task_and_model``,
        or the experiment's own, e.g. adding the Chomsky level).
      across: one of ``rows``'s fields whose values become columns instead of rows
        (e.g. ``"model"``: tasks down, models across); with several metrics each
        heading is ``<value> <heading>``.
      best: cells ``best / median`` over the seeds (the sweep's best run, as benchmark
        tables report) instead of ``median (min..max)``.
      reference: the row's fields (with ``across``'s) and the results field -> the
        paper's value, shown in brackets after ours (None: none).
      baseline: ``(name, field -> baseline field)``: a last row ``name`` giving, per
        column, the baseline field's median over all runs (e.g. the majority class of
        each test length), instead of repeating it per arm.
    """

    columns: tuple[tuple[str, str], ...]
    rows: Callable[[object], dict] = by_arm
    across: str | None = None
    best: bool = False
    reference: Callable[[dict, str], float | None] | None = None
    baseline: tuple[str, Callable[[str], str]] | None = None


def number(value: float) -> str:
    """Integers as integers, other values with three decimals (four significant figures past 1000)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"


def spread(values: Sequence[float], *, best: bool = False, lower: bool = False) -> str:
    """``median (min..max)`` (or ``best / median``) of ``values``; one number when they agree; "-" for none."""
    if not len(values):
        return "-"
    median, low, high = float(np.median(values)), float(np.min(values)), float(np.max(values))
    if low == high:
        return number(median)
    if best:
        return f"{number(low if lower else high)} / {number(median)}"
    return f"{number(median)} ({number(low)}..{number(high)})"


def compact_rows(table: Table, runs: Sequence) -> tuple[list[dict], list[str]]:
    """The rows and column headings of ``table`` over ``runs``, groups in order of first appearance.

    Without ``across`` a ``seeds`` column gives the seeds per row (``k of n`` when some diverged)."""
    groups: dict[tuple, list] = {}
    for r in runs:
        groups.setdefault(tuple(table.rows(r).items()), []).append(r)
    key_fields = list(dict.fromkeys(k for key in groups for k, _ in key if k != table.across))
    rows: dict[tuple, dict] = {}
    headings: dict[str, None] = {}
    for key, members in groups.items():
        fields = dict(key)
        value = fields.pop(table.across, None) if table.across else None
        row = rows.setdefault(tuple(fields.items()), dict(fields))
        finished = [r for r in members if alive(r)]
        if table.across is None:
            row["seeds"] = str(len(finished)) if len(finished) == len(members) else f"{len(finished)} of {len(members)}"
        for heading, metric in table.columns:
            values = measured(finished, metric)
            text = spread(values, best=table.best, lower=lower_is_better(metric))
            if values and len(values) < len(finished):  # e.g. a step never reached by some seeds
                text += f" [{len(values)} of {len(finished)}]"
            if table.reference is not None and (paper := table.reference(dict(key), metric)) is not None:
                text += f" ({number(paper)})"
            name = heading if value is None else (value if len(table.columns) == 1 else f"{value} {heading}")
            headings[name] = None
            row[name] = text
    columns = key_fields + ([] if table.across else ["seeds"]) + list(headings)
    rows = list(rows.values())
    if table.baseline is not None and not table.across:
        name, field = table.baseline
        values = {h: measured(runs, field(m)) for h, m in table.columns}
        rows.append({key_fields[0]: name} | {h: number(np.median(v)) for h, v in values.items() if v})
    return rows, columns


def default_table(runs: Sequence) -> Table:
    """For runs without a declared table: every measured metric of the runs, by arm."""
    return Table(tuple((m, m) for m in metrics(runs) if not m.startswith("final_")) or (("final_loss", "final_loss"),))


def metrics(runs: Sequence) -> list[str]:
    """The numeric results fields that measure the runs (not bookkeeping, hyper-parameters or timings)."""
    keys = dict.fromkeys(k for r in runs for k, v in r.results.items() if isinstance(v, (int, float)))
    return [k for k in keys if k not in BOOKKEEPING and k not in MEMBER_HPARAMS and not k.endswith("seconds")]


def summarise(runs: Sequence) -> list[dict]:
    """Per configuration (arm + grid label): seeds, diverged count, and the median
    and best over non-diverged seeds of every numeric metric."""
    groups: dict[tuple[str, str], list] = {}
    for r in runs:
        groups.setdefault((r.results.get("arm", ""), r.results.get("label", "")), []).append(r)
    rows = []
    for (arm, label), members in groups.items():
        finished = [r.results for r in members if alive(r)]
        row = {"arm": arm, "label": label, "seeds": len(members), "diverged": len(members) - len(finished)}
        grid = {k.partition("=")[0] for k in label.split(",")}
        for metric in (m for m in metrics(members) if m not in grid):
            values = [v[metric] for v in finished if isinstance(v.get(metric), (int, float))]
            if values:
                best = min(values) if lower_is_better(metric) else max(values)
                row |= {f"{metric} median": float(np.median(values)), f"{metric} best": best}
        rows.append(row)
    return rows


def per_run(runs: Sequence) -> list[dict]:
    """One row per run: arm, grid label, seed and every scalar results field."""
    return [{"arm": r.results.get("arm", ""), "label": r.results.get("label", ""), "seed": r.config.run.seed} | {
        k: v for k, v in r.results.items() if k not in ("arm", "label", "seed") and not isinstance(v, (list, dict))
    } for r in runs]
