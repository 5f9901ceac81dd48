"""Markdown tables of the benchmark scripts' JSON reports, the tables the notes quote.

One renderer per benchmark, ``report (the script's JSON dict) -> markdown``;
``render`` picks it from the report. Every script's ``--out DIR`` writes
``DIR/benchmark.json`` and ``DIR/table.md`` through ``write_report``, so a
benchmark run regenerates its table.

    python benchmarks/tables.py RESULT.json     # prints the table of a saved report

Scripts run as ``python benchmarks/<name>.py``, so this module is imported as
``tables`` from the scripts' own directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rnnjax.eval import tables as report_tables

MISSING = "-"
"""The cell of a measurement the report does not hold."""


# --- number formats, shared by every table ---


def count(value: float) -> str:
    """A rate or count: ``1.63M``, ``115.1k``, ``245``."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def ratio(value: float | None) -> str:
    """A speed relative to a baseline: ``0.92×``; ``-`` when the report has none."""
    return MISSING if value is None else f"{value:.2f}×"


def duration(seconds: float) -> str:
    """``0.5 ms`` below a tenth of a second, then ``0.22 s``, and ``10.4 s`` from ten seconds."""
    if seconds < 0.1:
        return f"{1e3 * seconds:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


UNITS = {"MB": 1e6, "MiB": 2**20}


def size(nbytes: int, unit: str = "MB") -> str:
    """Bytes in ``unit`` (``MB`` or ``MiB``): ``538 MB``, one decimal below one unit (``0.4 MiB``)."""
    value = nbytes / UNITS[unit]
    return f"{value:.0f} {unit}" if value >= 1 else f"{value:.1f} {unit}"


# --- markdown ---


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A markdown table of rows of cells under ``header`` (the reports' tables, ``rnnjax.eval.tables``)."""
    header = list(header)
    return report_tables.markdown_table([dict(zip(header, row)) for row in rows], header) + "\n"


def unique(values: Iterable) -> list:
    """The distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def plural(number: int, noun: str) -> str:
    """``1 device``, ``2 devices``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# --- one renderer per benchmark ---


def cells_table(report: dict) -> str:
    """``benchmarks/cells.py``: tokens/s of each implementation per (hidden, T), and for the
    rnnjax LSTM/GRU variants the speed relative to their flax / torch baselines."""
    results = report["results"]
    shapes = unique((r["hidden"], r["T"]) for r in results)
    by_shape = {(r["impl"], r["hidden"], r["T"]): r for r in results}

    def cell(record: dict | None) -> str:
        if record is None:
            return MISSING
        if not any(key.startswith("speed_vs_") for key in record):
            return count(record["tokens_per_s"])
        flax, torch = (next((record[key] for key in record if key.startswith(prefix)), None)
                       for prefix in ("speed_vs_flax.", "speed_vs_torch."))
        return f"{count(record['tokens_per_s'])} ({ratio(flax)} / {ratio(torch)})"

    rows = [[impl, *(cell(by_shape.get((impl, *shape))) for shape in shapes)]
            for impl in unique(r["impl"] for r in results)]
    return markdown_table(["implementation", *(f"H{hidden} T{length}" for hidden, length in shapes)], rows)


def _speed_grid(records: list[dict], speed_key: str, batches: list[int], lengths: list[int],
                skipped: set[tuple[int, int]] = frozenset()) -> str:
    """Batch rows x T columns of ``forward / forward+backward`` speeds (of the fastest record of each mode)."""

    def cell(batch: int, length: int) -> str:
        if (batch, length) in skipped:
            return "skipped"
        speeds = []
        for mode in ("fwd", "fwd+bwd"):
            found = [r[speed_key] for r in records if (r["batch"], r["T"], r["mode"]) == (batch, length, mode)]
            speeds.append(ratio(max(found)) if found else MISSING)
        return " / ".join(speeds)

    rows = [[str(batch), *(cell(batch, length) for length in lengths)] for batch in batches]
    return markdown_table(["batch", *(f"T {length}" for length in lengths)], rows)


def qrnn_table(report: dict) -> str:
    """``benchmarks/qrnn.py``: the associative scan relative to the sequential one, then the QRNN
    layer (the faster of its two recurrences) relative to the LSTM layer; forward / forward+backward."""
    results = report["results"]
    batches, lengths = unique(r["batch"] for r in results), unique(r["T"] for r in results)
    recurrence = [r for r in results if r["what"] == "recurrence" and r["impl"] == "associative"]
    layer = [r for r in results if r["what"] == "layer" and r["impl"].startswith("qrnn")]
    skipped = {(s["batch"], s["T"]) for s in report.get("layer_shapes_skipped", [])}
    return ("Associative scan relative to the sequential scan, recurrence only (forward / forward+backward):\n\n"
            + _speed_grid(recurrence, "speedup_vs_sequential", batches, lengths)
            + "\nQRNN layer (fo, k = 2, the faster of its two recurrences) relative to an LSTM layer of the same"
            " width (forward / forward+backward):\n\n"
            + _speed_grid(layer, "speedup_vs_lstm", batches, lengths, skipped))


CHOMSKY_MODELS = {"rnn": "RNN", "lstm": "LSTM", "stack_rnn": "stack RNN", "tape_rnn": "tape RNN",
                  "transformer": "Transformer", "rnnjax_stack_rnn": "rnnjax's stack RNN",
                  "rnnjax_tape_rnn": "rnnjax's tape RNN", "rnnjax_stratified_stack": "rnnjax's stratified stack",
                  "rnnjax_queue": "rnnjax's queue", "rnnjax_deque": "rnnjax's deque",
                  "rnnjax_superposition": "rnnjax's superposition stack"}


def chomsky_table(report: dict) -> str:
    """``benchmarks/chomsky.py``: train step ms of each model beside the public Haiku code's (with the forward
    pass alone and the step / forward ratio), then the projected grid (``--project``) or the evaluation over
    lengths and the whole (task, model) run against their one-at-a-time baselines."""
    steps = markdown_table(
        ["model", "ms", "Haiku ms", "speed vs Haiku", "forward ms", "step / forward"],
        ([CHOMSKY_MODELS.get(model, model), count(figures["ms"]),
          MISSING if figures["haiku_ms"] is None else count(figures["haiku_ms"]), ratio(figures["speedup_vs_haiku"]),
          count(figures["forward_ms"]) if "forward_ms" in figures else MISSING,
          ratio(figures.get("step_over_forward"))]
         for model, figures in report["train_step"].items()))
    text = "Train step at the paper's shapes:\n\n" + steps
    if "projection" in report:
        hours = report["projection"]["device_hours"]
        grid = report["projection"]["grid"]
        rows = [[CHOMSKY_MODELS.get(m, m), count(hours["rnnjax"]["per_model"][m]),
                 count(hours["public_code"]["per_model"][m]) if m in hours["public_code"]["per_model"] else MISSING]
                for m in hours["rnnjax"]["per_model"]]
        rows.append(["models with both figures", count(hours["same_models"]["rnnjax"]),
                     count(hours["same_models"]["public_code"])])
        if "lstm_population" in hours:
            rows.append([f"LSTM, vmapped populations of {hours['lstm_population']['members']}",
                         count(hours["lstm_population"]["hours"]), MISSING])
        text += (f"\nThe paper's grid ({grid['tasks']} tasks x {grid['models']} models x {grid['learning_rates']} "
                 f"learning rates x {grid['seeds']} seeds x {grid['steps']:,} steps), train steps only, "
                 f"{report['projection']['backend']} device-hours:\n\n"
                 + markdown_table(["model", "rnnjax", "public code"], rows))
    if report.get("population"):
        text += "\nVmapped populations of the LSTM's train step:\n\n" + markdown_table(
            ["members", "ms per step", "member-steps/s"],
            ([str(r["members"]), count(r["ms"]), count(r["member_steps_per_s"])] for r in report["population"]))
    if "evaluation" not in report:
        return text
    evaluation, run = report["evaluation"], report["whole_run"]
    costs = markdown_table(["measured", "ours", "one at a time", "speed-up"], [
        [f"evaluation 1..{evaluation['lengths']} x {evaluation['samples_per_length']}, one LSTM"
         f" (hidden {evaluation['hidden']})",
         f"{duration(evaluation['seconds'])}, {plural(evaluation['compilations'], 'compilation')}",
         f"{duration(evaluation['per_length_seconds'])}, "
         f"{plural(evaluation['per_length_compilations'], 'compilation')} (length by length)",
         ratio(evaluation["speedup"])],
        [f"whole run: {CHOMSKY_MODELS.get(run['model'], run['model'])} hidden {run['hidden']}, {run['steps']} steps,"
         f" batch {run['batch']}, then the evaluation",
         f"{duration(run['population_seconds'])} (population of {run['population']} in one program)",
         f"{duration(run['solo_runs_seconds'])} ({run['population']} solo runs of {duration(run['solo_seconds'])})",
         ratio(run["speedup"])],
    ])
    return text + "\nEvaluation and whole runs:\n\n" + costs


def throughput_table(report: dict) -> str:
    """``benchmarks/throughput.py``: member-steps/s per population and (K, devices), relative to one
    member at K = 1 on one device; then the main job's wall times when the report has them."""
    rows = report.get("populations", [])
    setups = unique((r["devices"], r["steps_per_call"]) for r in rows)
    by_setup = {(r["population"], r["devices"], r["steps_per_call"]): r for r in rows}

    def cell(record: dict | None) -> str:
        return MISSING if record is None else f"{count(record['member_steps_per_s'])} ({ratio(record['vs_baseline'])})"

    table = markdown_table(
        ["population", *(f"K={k}, {plural(devices, 'device')}" for devices, k in setups)],
        ([str(population), *(cell(by_setup.get((population, *setup))) for setup in setups)]
         for population in unique(r["population"] for r in rows))) if rows else ""
    job = report.get("main_job")
    if not job:
        return table
    runs = markdown_table(["main job", "wall time", "programs compiled", "XLA compilation"], (
        [name.replace("_", " "), duration(job[name]["wall_s"]), str(job[name].get("compilations", MISSING)),
         duration(job[name]["compile_s"]) if "compile_s" in job[name] else MISSING]
        for name in ("from_scratch", "warm_cache") if name in job))
    same = "the same" if job.get("same_table") else "different"
    return table + "\nMain job (`rnnjax train --experiment counting`):\n\n" + runs + f"\nResult tables: {same}.\n"


def population_cost_table(report: dict) -> str:
    """``benchmarks/population_cost.py``: microseconds per member-timestep of M vmapped members
    (forward + backward), against one member, the speed-up over one member that cost allows on
    the report's cores, and the gates' matmul and activations alone (per member-timestep)."""
    return markdown_table(
        ["members", "µs per member-timestep", "vs one member", f"ceiling on {plural(report['cores'], 'core')}",
         "gates' matmul µs", "activations µs"],
        ([str(r["members"]), f"{r['us_per_member_timestep']:.1f}", ratio(r["cost_vs_one"]), ratio(r["ceiling"]),
          f"{r['matmul_us']:.2f}", f"{r['activations_us']:.2f}"] for r in report["rows"]))


def members_table(report: dict) -> str:
    """``benchmarks/members.py``: member-steps/s of a sweep's members vmapped (the baseline) and
    mapped (bit-identical whatever the layout), and mapped / vmapped."""
    return markdown_table(
        ["members", "steps", "vmapped member-steps/s", "mapped member-steps/s", "mapped / vmapped"],
        ([str(r["population"]), str(r["steps"]), count(r["vmap_member_steps_per_s"]),
          count(r["map_member_steps_per_s"]), ratio(r["map_vs_vmap"])] for r in report["rows"]))


def determinism_table(report: dict) -> str:
    """``benchmarks/determinism.py``: per way of training members (and deterministic ops), whether
    a run repeats bit for bit, seed 0's largest params difference alone vs in the population, and
    the population run's seconds against the same setting without deterministic ops."""
    return markdown_table(
        ["members", "deterministic ops", "population", "repeats bitwise", "alone vs population: max |Δ params|",
         "|Δ final loss|", "seconds", "vs without"],
        ([r["members"], "on" if r["deterministic"] else "off", str(r["population"]), "yes" if r["repeats"] else "no",
          f"{r['layout_max_abs_diff']:.3g}", f"{r['layout_loss_diff']:.3g}", duration(r["seconds"]),
          ratio(r["vs_plain"])] for r in report["rows"]))


def memory_table(report: dict) -> str:
    """``benchmarks/memory.py``: tokens/s, speed relative to the plain LSTM and compiled bytes of each
    cell; one column per T, or one column per figure when the report has a single T."""
    results = report["results"]
    lengths = unique(r["T"] for r in results)
    impls = unique(r["impl"] for r in results)
    by_length = {(r["impl"], r["T"]): r for r in results}
    if len(lengths) == 1:
        return markdown_table(
            [f"cell, T {lengths[0]}", "tokens/s (vs LSTM)", "compiled bytes"],
            ([r["impl"], f"{count(r['tokens_per_s'])} ({ratio(r['speed_vs_lstm'])})", size(r["compiled_bytes"])]
             for r in results))

    def cell(record: dict | None) -> str:
        if record is None:
            return MISSING
        speed = f"{count(record['tokens_per_s'])} tok/s ({ratio(record['speed_vs_lstm'])})"
        return f"{speed}, {size(record['compiled_bytes'])}"

    return markdown_table(["cell", *(f"T {length}" for length in lengths)],
                          ([impl, *(cell(by_length.get((impl, length))) for length in lengths)] for impl in impls))


NONDETERMINISTIC_STACK_VARIANTS = {
    "lstm (baseline)": "LSTM",
    "rns, growing buffer, recomputed blocks of 16 (default)": "growing, recomputed blocks of 16 (default)",
    "rns, growing buffer, no recomputation": "growing, no recomputation",
    "rns, fixed buffer, checkpointed blocks of 16": "fixed buffer, checkpointed",
    "rns, window 16": "window 16",
    "torch eager rns (baseline)": "PyTorch eager",
}


def nondeterministic_stack_table(report: dict) -> str:
    """``benchmarks/nondeterministic_stack.py``: seconds per batch and compiled bytes of each variant by n."""
    results = report["results"]
    impls = unique(r["impl"] for r in results)
    by_n = {(r["impl"], r["n"]): r for r in results}

    def cell(record: dict | None) -> str:
        if record is None:
            return MISSING
        if record["compiled_bytes"] is None:
            return duration(record["s_per_batch"])
        return f"{duration(record['s_per_batch'])}, {size(record['compiled_bytes'], 'MiB')}"

    return markdown_table(["n", *(NONDETERMINISTIC_STACK_VARIANTS.get(impl, impl) for impl in impls)],
                          ([str(n), *(cell(by_n.get((impl, n))) for impl in impls)]
                           for n in unique(r["n"] for r in results)))


# --- which renderer ---

BY_NAME: dict[str, Callable[[dict], str]] = {
    "cells train step (fwd+bwd+adam)": cells_table,
    "qrnn recurrence and layer": qrnn_table,
    "memory-augmented LSTM train step": memory_table,
    "RNS-RNN train step (fwd+bwd)": nondeterministic_stack_table,
    "training throughput": throughput_table,
    "population cost": population_cost_table,
    "members mapped vs vmapped": members_table,
    "determinism": determinism_table,
}
"""The renderer of each report's ``benchmark`` name."""

BY_KEY: dict[str, Callable[[dict], str]] = {
    "train_step": chomsky_table,
    "populations": throughput_table,
}
"""The renderer of the reports that carry no ``benchmark`` name (older JSON), by a key only they have."""


def render(report: dict) -> str:
    """The markdown table(s) of a benchmark report; ValueError for a report no renderer knows."""
    if report.get("benchmark") in BY_NAME:
        return BY_NAME[report["benchmark"]](report)
    for key, renderer in BY_KEY.items():
        if key in report:
            return renderer(report)
    raise ValueError(f"no table for a benchmark report with keys {sorted(report)}"
                     + (f" (benchmark {report['benchmark']!r})" if "benchmark" in report else ""))


def write_report(report: dict, directory: str | Path) -> Path:
    """Writes ``directory/benchmark.json`` (the report) and ``directory/table.md`` (``render``);
    returns the directory. The table is rendered first, so an unknown report writes nothing."""
    table = render(report)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "benchmark.json").write_text(json.dumps(report, indent=1) + "\n")
    (directory / "table.md").write_text(table)
    return directory


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """The ``--out DIR`` option every benchmark script takes (see ``publish``)."""
    parser.add_argument("--out", metavar="DIR", help="also write DIR/benchmark.json and DIR/table.md")


def publish(report: dict, out: str | Path | None) -> None:
    """What every benchmark script ends with: prints the report as JSON and, given ``out``,
    writes it and its table there (``write_report``)."""
    print(json.dumps(report, indent=1))
    if out:
        write_report(report, out)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(render(json.loads(Path(argv[0]).read_text())), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
