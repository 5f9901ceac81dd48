"""Self-contained HTML pages of reports: one per experiment, and an index over a runs folder.

A page carries everything inline (figures as ``data:`` PNGs, styles), so it can be
mailed or attached as one file; its only links are relative ones to the files and
TensorBoard run directories beside it. When it loads, the page counts the figures
that rendered into ``data-figures-loaded`` on its body (and says so if any failed).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from rnnjax.eval.claims import VERDICTS
from rnnjax.eval.tables import cell_text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.reproduced { background: #dff0d8; } td.partly { background: #fcf8e3; } td.not { background: #f2dede; }
td.did-not-train { background: #e8e8e8; font-style: italic; }
p.note { white-space: pre-line; font-size: 0.9em; color: #444; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
pre { background: #f8f8f8; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.failed { color: #a00; font-weight: bold; }
"""
SCRIPT = """
window.addEventListener("load", () => {
  const figures = [...document.querySelectorAll("figure img")];
  const loaded = figures.filter(img => img.complete && img.naturalWidth > 0).length;
  document.body.dataset.figuresLoaded = loaded;
  if (loaded < figures.length) {
    const note = document.createElement("p");
    note.className = "failed";
    note.textContent = (figures.length - loaded) + " of " + figures.length + " figures did not load";
    document.body.prepend(note);
  }
});
"""


def _document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>\n{body}\n</body></html>\n")


def table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = ""
    for row in rows:
        cells = ""
        for c in columns:
            text = cell_text(row.get(c))
            kind = f' class="{text.replace(" ", "-")}"' if c == "verdict" and text in VERDICTS else ""
            cells += f"<td{kind}>{html.escape(text)}</td>"
        body += f"<tr>{cells}</tr>\n"
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _description(text: str) -> str:
    """A docstring as paragraphs, its indented blocks (commands) as preformatted text."""
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if all(line.startswith("    ") for line in lines):
            out.append(f"<pre>{html.escape(chr(10).join(line[4:] for line in lines))}</pre>")
        else:
            out.append(f"<p>{html.escape(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)


def _figure(path: Path, out_dir: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    name = html.escape(os.path.relpath(path, out_dir))
    return f'<figure><img src="data:image/png;base64,{data}" alt="{name}"><figcaption>{name}</figcaption></figure>'


def _link(target: Path, out_dir: Path, text: str | None = None) -> str:
    href = os.path.relpath(target, out_dir) + ("/" if target.is_dir() else "")
    return f'<a href="{html.escape(href)}">{html.escape(text or href)}</a>'


def _arms(runs: Sequence, out_dir: Path) -> str:
    """Per arm: its config (the first seed's, seed left out) and a link to every seed's run directory."""
    by_arm: dict[str, list] = {}
    for r in runs:
        by_arm.setdefault(r.results.get("arm", "") or r.run_dir.name, []).append(r)
    out = []
    for arm, members in by_arm.items():
        config = json.loads(members[0].config.to_json())
        config.get("run", {}).pop("seed", None)
        links = ", ".join(_link(r.run_dir, out_dir) for r in members)
        out.append(f"<details><summary>{html.escape(arm)}: {len(members)} run(s)</summary>"
                   f"<p>TensorBoard runs: {links}</p><pre>{html.escape(json.dumps(config, indent=2))}</pre></details>")
    return "\n".join(out)


def page(report) -> str:
    """The page of one ``rnnjax.eval.report.Report``."""
    out_dir = report.out_dir
    title = report.name or out_dir.name
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if report.description:
        parts.append(_description(report.description))
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>\n{table(section.rows, section.columns)}"
                     + (f'\n<p class="note">{html.escape(section.note)}</p>' if section.note else ""))
    if report.notes:
        parts.append(f"<h2>Notes</h2><pre>{html.escape(report.notes)}</pre>")
    if report.figures:
        parts.append("<h2>Figures</h2>\n" + "\n".join(_figure(p, out_dir) for p in report.figures))
    parts.append("<h2>Arms</h2>\n" + _arms(report.runs, out_dir))
    files = [out_dir / f"{name}.csv" for name in ("compact", "runs", "summary", "claims", "deviations")
             if (out_dir / f"{name}.csv").exists()]
    parts.append("<h2>Files</h2><p>" + ", ".join(_link(f, out_dir) for f in files) + "</p>"
                 f"<p>TensorBoard: <code>tensorboard --logdir {html.escape(str(out_dir))}</code> "
                 "(scalars per run; figures as images on the runs they belong to and on <code>figures</code>)</p>")
    return _document(title, "\n".join(parts))


def index(root: Path, reports: Sequence) -> str:
    """A page over a runs folder: per report, a link to its page, its run count and its claims' verdicts."""
    rows = []
    for r in reports:
        verdicts = [row.get("verdict") for s in r.sections[1:] for row in s.rows]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if verdicts.count(v))
        rows.append(f"<tr><td>{_link(r.out_dir / 'report.html', root, r.name or r.out_dir.name)}</td>"
                    f"<td>{len(r.runs)}</td><td>{html.escape(counts or '-')}</td></tr>")
    body = (f"<h1>{html.escape(root.name)}</h1><table><thead><tr><th>experiment</th><th>runs</th><th>claims</th>"
            f"</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")
    return _document(root.name, body)
