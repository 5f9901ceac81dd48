"""An experiment's report: what ``rnnjax train``, ``sweep`` and ``report`` print and write.

Printed: the compact table (``rnnjax.eval.tables.Table``, the experiment's or one
column per metric), the experiment's own notes, and its claims. Written to the
experiment's directory:

    compact.md/.csv     the compact table
    runs.md/.csv        every run, every scalar results field
    summary.md/.csv     per configuration: median and best over seeds of every metric
    claims.md/.csv      claim, the paper's figure, ours, verdict, command
    *.png               the figures (also logged to TensorBoard, ``rnnjax.eval.plots``)
    report.html         one self-contained page of all of it (``rnnjax.eval.html_page``)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnjax.eval import html_page
from rnnjax.eval.claims import COLUMNS, Claim, verdict
from rnnjax.eval.plots import figure_log, plot_accuracy_by_n
from rnnjax.eval.tables import (
    Table,
    alive,
    compact_rows,
    default_table,
    markdown_table,
    per_run,
    summarise,
    write_table,
)

FILES = ("compact", "runs", "summary", "claims")


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    rows: list[dict]
    columns: list[str]


@dataclasses.dataclass(frozen=True)
class Report:
    """Attributes:
      name: the experiment's name ("" for runs of no experiment).
      description: its claim and what "reproduced" means.
      out_dir: where the report was written.
      sections: the compact table, then the claims (if any).
      notes: the experiment's own report text.
      figures: every figure the report saved, in order.
      runs: the runs reported.
    """

    name: str
    description: str
    out_dir: Path
    sections: tuple[Section, ...]
    notes: str
    figures: tuple[Path, ...]
    runs: tuple

    def text(self) -> str:
        parts = [f"{s.title}\n{markdown_table(s.rows, s.columns)}" for s in self.sections[:1]]
        parts += [self.notes] if self.notes else []
        parts += [f"{s.title}\n{markdown_table(s.rows, s.columns)}" for s in self.sections[1:]]
        written = [f"{self.out_dir / name}.md/.csv" for name in FILES if (self.out_dir / f"{name}.md").exists()]
        figures = "".join(f"\n  {p}" for p in self.figures)
        page = [str(self.out_dir / "report.html")] if (self.out_dir / "report.html").exists() else []
        parts.append(f"Written: {', '.join(written + page)}"
                     + (f"\nFigures (also in TensorBoard):{figures}" if figures else ""))
        return "\n\n".join(parts)


def write_report(
    runs: Sequence, out_dir: str | Path, *, name: str = "", description: str = "", table: Table | None = None,
    claims: Sequence[Claim] = (), extra: Callable[[list, Path], str] | None = None,
    measure: Callable[[object, Path], dict] | None = None, html: bool = True,
) -> Report:
    """Writes the tables, figures and (with ``html``) the page of ``runs`` into ``out_dir``
    (module docstring). ``measure``: ``(run, out_dir) -> metrics`` added to each
    non-diverged run's results; ``extra``: the experiment's own ``(runs, out_dir) -> text``;
    both run with their figures logged."""
    out_dir, runs = Path(out_dir), list(runs)
    with figure_log(out_dir) as log:
        if measure is not None:
            runs = [dataclasses.replace(r, results=r.results | measure(r, out_dir)) if alive(r) else r for r in runs]
        if any("correct_by_n" in r.results for r in runs):
            plot_accuracy_by_n(runs, out_dir / "accuracy_vs_n.png")
        notes = extra(runs, out_dir) if extra is not None else ""
    write_table(per_run(runs), None, out_dir / "runs")
    write_table(summarise(runs), None, out_dir / "summary")
    table = table or default_table(runs)
    rows, columns = compact_rows(table, runs)
    write_table(rows, columns, out_dir / "compact")
    spread = "best / median over the sweep" if table.best else "median (min..max) over the seeds that did not diverge"
    sections = [Section(f"Results: {spread}" + ("; the paper's in brackets" if table.reference else ""), rows,
                        columns)]
    claim_rows = [row for row in (verdict(c, runs) for c in claims) if row["verdict"] != "not run"]
    if claim_rows:  # the claims of the arms trained here; the others are counted in the title
        write_table(claim_rows, COLUMNS, out_dir / "claims")
        untrained = len(claims) - len(claim_rows)
        sections.append(Section("Claims" + (f" ({untrained} of arms not trained here left out)" if untrained else ""),
                                claim_rows, list(COLUMNS)))
    report = Report(name, description, out_dir, tuple(sections), notes, tuple(log.paths), tuple(runs))
    if html:
        (out_dir / "report.html").write_text(html_page.page(report))
    return report


def write_index(root: str | Path, reports: Sequence[Report]) -> Path:
    """``root/index.html``: a page linking the reports of the experiments under ``root``."""
    path = Path(root) / "index.html"
    path.write_text(html_page.index(Path(root), reports))
    return path
