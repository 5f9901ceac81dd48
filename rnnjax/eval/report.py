"""Tables of run results: markdown for reading, CSV for tools."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


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
