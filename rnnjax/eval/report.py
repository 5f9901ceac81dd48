"""An experiment's report: what ``rnnjax train``, ``sweep`` and ``report`` print and write.

Printed: the compact table (``rnnjax.eval.tables.Table``, the experiment's or one
column per metric) with a note of the claims' sources and budgets, the experiment's
own notes, its claims, and its deviations from the paper's protocol. Written to the
experiment's directory:

    compact.md/.csv     the compact table
    runs.md/.csv        every run, every scalar results field
    summary.md/.csv     per configuration: median and best over seeds of every metric
    claims.md/.csv      claim, the paper's figure, its source, ours, verdict, budget, command
    deviations.md/.csv  setting, the paper's (or public code's) value, ours, why, expected effect
    *.png               the figures (also logged to TensorBoard, ``rnnjax.eval.plots``)
    report.html         one self-contained page of all of it (``rnnjax.eval.html_page``)
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnjax.eval import html_page
from rnnjax.eval.claims import COLUMNS, DEVIATION_COLUMNS, Claim, Deviation, deviation_rows, provenance, verdict
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
from rnnjax.train.experiment import Experiment, built_in_experiments, load_experiment
from rnnjax.train.runs import Run, find_runs, load_runs

FILES = ("compact", "runs", "summary", "claims", "deviations")
COMMAND_FILE = "command.txt"
"""the command line that trained an experiment's runs, in its output folder"""


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    rows: list[dict]
    columns: list[str]
    note: str = ""
    """text printed under the table (the compact table's: the claims' sources and budgets)"""

    def text(self) -> str:
        return f"{self.title}\n{markdown_table(self.rows, self.columns)}" + (f"\n\n{self.note}" if self.note else "")


@dataclasses.dataclass(frozen=True)
class Report:
    """Attributes:
      name: the experiment's name ("" for runs of no experiment).
      description: its claim and what "reproduced" means.
      out_dir: where the report was written.
      sections: the compact table, then the claims and the deviations (if any).
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
        parts = [s.text() for s in self.sections[:1]]
        parts += [self.notes] if self.notes else []
        parts += [s.text() for s in self.sections[1:]]
        written = [f"{self.out_dir / name}.md/.csv" for name in FILES if (self.out_dir / f"{name}.md").exists()]
        figures = "".join(f"\n  {p}" for p in self.figures)
        page = [str(self.out_dir / "report.html")] if (self.out_dir / "report.html").exists() else []
        parts.append(f"Written: {', '.join(written + page)}"
                     + (f"\nFigures (also in TensorBoard):{figures}" if figures else ""))
        return "\n\n".join(parts)


def write_report(
    runs: Sequence, out_dir: str | Path, *, name: str = "", description: str = "", table: Table | None = None,
    claims: Sequence[Claim] = (), extra: Callable[[list, Path], str] | None = None,
    measure: Callable[[object, Path], dict] | None = None, html: bool = True, deviations: Sequence[Deviation] = (),
) -> Report:
    """Writes the tables, figures and (with ``html``) the page of ``runs`` into ``out_dir``
    (module docstring). ``measure``: ``(run, out_dir) -> metrics`` added to each
    non-diverged run's results; ``extra``: the experiment's own ``(runs, out_dir) -> text``;
    both run with their figures logged. ``deviations``: the experiment's departures from
    the paper's protocol, a table of their own."""
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
    measured_claims = [(c, verdict(c, runs)) for c in claims]
    trained = [c for c, row in measured_claims if row["verdict"] != "not run"]
    claim_rows = [row for _, row in measured_claims if row["verdict"] != "not run"]
    sections = [Section(f"Results: {spread}" + ("; the paper's in brackets" if table.reference else ""), rows,
                        columns, provenance(trained, runs))]
    if claim_rows:  # the claims of the arms trained here; the others are counted in the title
        write_table(claim_rows, COLUMNS, out_dir / "claims")
        untrained = len(claims) - len(claim_rows)
        sections.append(Section("Claims" + (f" ({untrained} of arms not trained here left out)" if untrained else ""),
                                claim_rows, list(COLUMNS)))
    if deviations:
        write_table(deviation_rows(deviations), DEVIATION_COLUMNS, out_dir / "deviations")
        sections.append(Section("Deviations from the paper's protocol", deviation_rows(deviations),
                                list(DEVIATION_COLUMNS)))
    report = Report(name, description, out_dir, tuple(sections), notes, tuple(log.paths), tuple(runs))
    if html:
        (out_dir / "report.html").write_text(html_page.page(report))
    return report


def write_index(root: str | Path, reports: Sequence[Report]) -> Path:
    """``root/index.html``: a page linking the reports of the experiments under ``root``."""
    path = Path(root) / "index.html"
    path.write_text(html_page.index(Path(root), reports))
    return path


def experiment_report(experiment: Experiment, runs: list[Run], out_dir: Path, html: bool = True) -> Report:
    """The experiment's measurements, compact table, own report, claims and HTML page
    (``rnnjax.eval.report``). The claims name the command that trained the runs when
    ``out_dir`` recorded one, else the experiment's default."""
    recorded = out_dir / COMMAND_FILE
    claims = experiment.claims
    if recorded.exists():
        claims = tuple(dataclasses.replace(c, command=recorded.read_text().strip()) for c in claims)
    return write_report(runs, out_dir, name=experiment.name, description=experiment.description,
                        table=experiment.table, claims=claims, extra=experiment.report,
                        measure=experiment.measure, html=html, deviations=experiment.deviations)


def report_directory(paths: str | Path | Sequence[str | Path], experiment: str | None = None, html: bool = True,
                     out: str | Path | None = None) -> list[Report]:
    """Reports the finished runs under ``paths`` (one directory, or several whose runs report
    together into ``out``): as ``experiment`` (default: the built-in experiment named like the
    directories, else as plain runs), or, for one runs folder whose subdirectories are
    experiments' outputs (a built-in's name, ``adhoc``, or a folder an experiment reported into
    before), each of those and an ``index.html`` over them. Nothing found in the folders is
    imported; runs that cannot be read are named and left out."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if len(paths) != 1 and out is None:
        raise ValueError(f"{len(paths)} directories report together into one folder: give --out")
    run_dirs = sorted({d for p in paths for d in find_runs(p)})
    if not run_dirs:
        raise FileNotFoundError(f"no finished runs (results.json) under {', '.join(map(str, paths))}")
    names = {p.resolve().name for p in paths}
    named = load_experiment(experiment) if experiment else _built_in_named(names.pop()) if len(names) == 1 else None
    if experiment is None and named is None and out is None:
        (path,) = paths
        parts = [(p, _built_in_named(p.name)) for p in sorted(path.iterdir()) if p.is_dir() and find_runs(p)]
        parts = [(p, e) for p, e in parts if e is not None or p.name == "adhoc" or (p / "report.html").exists()]
        if parts:
            reports = [_report(p, find_runs(p), e, html) for p, e in parts]
            if html:
                write_index(path, reports)
            return reports
    out = paths[0] if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [_report(out, run_dirs, named, html)]


def _report(path: Path, run_dirs: list[Path], experiment: Experiment | None, html: bool) -> Report:
    runs = load_runs(run_dirs, on_broken=lambda message: print(f"rnnjax: {message}; left out of the report",
                                                               file=sys.stderr))
    if experiment is None:
        return write_report(runs, path, name=path.name, html=html)
    order = {arm: i for i, arm in enumerate(experiment.arms)}
    runs.sort(key=lambda r: order.get(r.arm, len(order)))  # as `train` lists them; seeds stay in order
    return experiment_report(experiment, runs, path, html)


def _built_in_named(name: str) -> Experiment | None:
    return load_experiment(name) if name in built_in_experiments() else None
