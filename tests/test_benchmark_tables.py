"""benchmarks/tables.py: the benchmark tables of the notes are rendered from the benchmarks' JSON reports."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
DOCS = REPO / "docs" / "results"


def _load_tables():
    spec = importlib.util.spec_from_file_location("benchmark_tables", BENCHMARKS / "tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = _load_tables()


def rows(markdown: str) -> list[list[str]]:
    """The cells of every table line of ``markdown`` (header and separator included)."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in markdown.splitlines() if line.startswith("|")]


def headers(markdown: str) -> list[str]:
    """The header row of each table in ``markdown``."""
    lines = markdown.splitlines()
    return [lines[i] for i in range(len(lines) - 1) if lines[i].startswith("|") and lines[i + 1].startswith("|---")]


def test_number_formats():
    assert [tables.count(n) for n in (1630929, 115100, 8930, 244.78)] == ["1.63M", "115.1k", "8.9k", "245"]
    assert [tables.ratio(r) for r in (0.923, 7.372, None)] == ["0.92×", "7.37×", "-"]
    assert [tables.duration(s) for s in (0.0005, 0.2194, 1.4983, 10.4304)] == ["0.5 ms", "0.22 s", "1.50 s", "10.4 s"]
    assert tables.size(538_000_000) == "538 MB" and tables.size(434717476, "MiB") == "415 MiB"
    assert tables.size(376516, "MiB") == "0.4 MiB"


def test_cells_table_gives_tokens_per_second_and_the_speed_against_flax_and_torch():
    report = {"benchmark": "cells train step (fwd+bwd+adam)", "results": [
        {"impl": "rnnjax.lstm(hoist=False)", "hidden": 10, "T": 200, "tokens_per_s": 1630929,
         "speed_vs_flax.OptimizedLSTMCell": 0.923, "speed_vs_torch.nn.LSTM": 1.248},
        {"impl": "flax.OptimizedLSTMCell", "hidden": 10, "T": 200, "tokens_per_s": 1767055},
        {"impl": "rnnjax.lstm(hoist=False)", "hidden": 128, "T": 100, "tokens_per_s": 115100,
         "speed_vs_flax.OptimizedLSTMCell": 1.08},  # a run without torch
    ]}
    table = rows(tables.render(report))
    assert table[0] == ["implementation", "H10 T200", "H128 T100"]
    assert table[2] == ["rnnjax.lstm(hoist=False)", "1.63M (0.92× / 1.25×)", "115.1k (1.08× / -)"]
    assert table[3] == ["flax.OptimizedLSTMCell", "1.77M", "-"]


def test_qrnn_tables_take_the_faster_qrnn_recurrence_and_mark_skipped_shapes():
    def record(what, impl, mode, batch, length, **speed):
        return {"what": what, "impl": impl, "mode": mode, "batch": batch, "T": length, "hidden": 256, **speed}

    report = {"benchmark": "qrnn recurrence and layer", "layer_shapes_skipped": [{"batch": 128, "T": 512}],
              "results": [
                  record("recurrence", "associative", "fwd", 8, 512, speedup_vs_sequential=0.661),
                  record("recurrence", "associative", "fwd+bwd", 8, 512, speedup_vs_sequential=0.221),
                  record("recurrence", "sequential", "fwd", 8, 512, speedup_vs_sequential=1.0),
                  record("layer", "qrnn(fo, k=2, associative)", "fwd", 8, 512, speedup_vs_lstm=1.316),
                  record("layer", "qrnn(fo, k=2, sequential)", "fwd", 8, 512, speedup_vs_lstm=1.56),
                  record("layer", "qrnn(fo, k=2, associative)", "fwd+bwd", 8, 512, speedup_vs_lstm=4.12),
                  record("layer", "qrnn(fo, k=2, sequential)", "fwd+bwd", 8, 512, speedup_vs_lstm=3.5),
                  record("layer", "lstm", "fwd", 8, 512, speedup_vs_lstm=1.0),
                  record("recurrence", "associative", "fwd", 128, 512, speedup_vs_sequential=0.69),
                  record("recurrence", "associative", "fwd+bwd", 128, 512, speedup_vs_sequential=0.44),
              ]}
    recurrence, layer = (rows(part) for part in tables.render(report).split("\nQRNN layer"))
    assert recurrence[0] == ["batch", "T 512"]
    assert recurrence[2:] == [["8", "0.66× / 0.22×"], ["128", "0.69× / 0.44×"]]
    assert layer[2:] == [["8", "1.56× / 4.12×"], ["128", "skipped"]]


def test_chomsky_tables_give_our_ms_the_public_codes_and_the_costs():
    report = {
        "train_step": {"rnn": {"ms": 76.86, "haiku_ms": None, "speedup_vs_haiku": None},
                       "lstm": {"ms": 237.47, "haiku_ms": 207.0, "speedup_vs_haiku": 0.8717}},
        "evaluation": {"lengths": 100, "samples_per_length": 64, "hidden": 64, "seconds": 10.35, "compilations": 9,
                       "per_length_seconds": 123.5, "per_length_compilations": 202, "speedup": 11.93},
        "whole_run": {"model": "lstm", "hidden": 64, "steps": 300, "batch": 32, "population": 30,
                      "population_seconds": 151.1, "solo_seconds": 151.66, "solo_runs_seconds": 4549.7,
                      "speedup": 30.11},
    }
    table = rows(tables.render(report))
    assert table[2] == ["RNN", "77", "-", "-", "-", "-"]  # no forward pass timed in this report
    assert table[3] == ["LSTM", "237", "207", "0.87×", "-", "-"]
    evaluation, run = table[6], table[7]
    assert evaluation[1:] == ["10.3 s, 9 compilations", "123.5 s, 202 compilations (length by length)", "11.93×"]
    assert "4549.7 s (30 solo runs of 151.7 s)" in run and run[-1] == "30.11×"


def test_throughput_table_gives_member_steps_per_setup_and_the_main_job_when_measured():
    def row(population, k, devices, rate, vs):
        return {"population": population, "steps_per_call": k, "devices": devices, "member_steps_per_s": rate,
                "vs_baseline": vs}

    report = {"populations": [row(1, 1, 1, 244.78, 1.0), row(64, 1, 1, 263.4, 1.076),
                              row(1, 16, 2, 232.8, 0.951), row(64, 16, 2, 655.2, 2.677)], "cores": 2}
    quick = tables.render(report)
    table = rows(quick)
    assert table[0] == ["population", "K=1, 1 device", "K=16, 2 devices"]
    assert table[3] == ["64", "263 (1.08×)", "655 (2.68×)"]
    assert "Main job" not in quick
    report["main_job"] = {"from_scratch": {"wall_s": 117.36, "compilations": 59, "compile_s": 88.3},
                          "warm_cache": {"wall_s": 75.2, "compilations": 0, "compile_s": 3.64}, "same_table": True}
    full = tables.render(report)
    assert rows(full)[-1] == ["warm cache", "75.2 s", "0", "3.64 s"]
    assert full.endswith("Result tables: the same.\n")


def test_population_cost_table_gives_the_cost_per_member_timestep_and_the_ceiling_it_allows():
    def row(members, us, vs, ceiling):
        return {"members": members, "us_per_member_timestep": us, "cost_vs_one": vs, "ceiling": ceiling,
                "matmul_us": 1.234, "activations_us": 0.851}

    report = {"benchmark": "population cost", "cores": 2,
              "rows": [row(1, 15.04, 1.0, 1.0), row(64, 13.6, 0.904, 2.212)]}
    table = rows(tables.render(report))
    assert table[0][3] == "ceiling on 2 cores"
    assert table[3] == ["64", "13.6", "0.90×", "2.21×", "1.23", "0.85"]


def test_memory_table_has_a_column_per_length_or_one_per_figure_for_a_single_length():
    def record(impl, length, rate, speed, nbytes):
        return {"impl": impl, "T": length, "tokens_per_s": rate, "speed_vs_lstm": speed, "compiled_bytes": nbytes}

    report = {"benchmark": "memory-augmented LSTM train step", "results": [
        record("lstm", 64, 464469, 1.0, 7846456), record("lstm+stack (no remat)", 64, 141837, 0.305, 16259928),
        record("lstm", 512, 230190, 1.0, 59226680), record("lstm+stack (no remat)", 512, 21747, 0.094, 538034520),
    ]}
    table = rows(tables.render(report))
    assert table[0] == ["cell", "T 64", "T 512"]
    assert table[3] == ["lstm+stack (no remat)", "141.8k tok/s (0.30×), 16 MB", "21.7k tok/s (0.09×), 538 MB"]
    report["results"] = [r for r in report["results"] if r["T"] == 512]
    table = rows(tables.render(report))
    assert table[0] == ["cell, T 512", "tokens/s (vs LSTM)", "compiled bytes"]
    assert table[3] == ["lstm+stack (no remat)", "21.7k (0.09×)", "538 MB"]


def test_nondeterministic_stack_table_gives_seconds_and_mebibytes_by_n():
    def record(impl, n, seconds, nbytes):
        return {"impl": impl, "n": n, "s_per_batch": seconds, "compiled_bytes": nbytes}

    report = {"benchmark": "RNS-RNN train step (fwd+bwd)", "results": [
        record("lstm (baseline)", 128, 0.0021, 1554052),
        record("rns, growing buffer, recomputed blocks of 16 (default)", 128, 4.7805, 434717476),
        record("torch eager rns (baseline)", 128, 22.2309, None),
    ]}
    table = rows(tables.render(report))
    assert table[0] == ["n", "LSTM", "growing, recomputed blocks of 16 (default)", "PyTorch eager"]
    assert table[2] == ["128", "2.1 ms, 1 MiB", "4.78 s, 415 MiB", "22.2 s"]


HAND_HEADERS = {
    "bench_cells": ["| implementation | H10 T200 | H128 T100 | H128 T1000 | H512 T100 | H512 T1000 |"],
    "bench_qrnn": ["| batch | T 128 | T 512 | T 2048 | T 8192 |"] * 2,
    "bench_throughput": ["| population | K=1, 1 device | K=16, 1 device | K=64, 1 device | K=1, 2 devices "
                         "| K=16, 2 devices | K=64, 2 devices |",
                         "| main job | wall time | programs compiled | XLA compilation |"],
    "bench_population_cost": ["| members | µs per member-timestep | vs one member | ceiling on 2 cores "
                              "| gates' matmul µs | activations µs |"],
    "bench_memory": ["| cell | T 64 | T 128 | T 512 |"],
    "bench_memory_ntm": ["| cell, T 512 | tokens/s (vs LSTM) | compiled bytes |"],
    "bench_nondeterministic_stack": ["| n | LSTM | growing, recomputed blocks of 16 (default) "
                                     "| growing, no recomputation | fixed buffer, checkpointed | window 16 "
                                     "| PyTorch eager |"],
    # the notes' table also held an earlier run and the goals, which the JSON does not: these columns are the JSON's
    "bench_chomsky": ["| model | ms | Haiku ms | speed vs Haiku | forward ms | step / forward |",
                      "| measured | ours | one at a time | speed-up |"],
    "bench_chomsky_project": ["| model | ms | Haiku ms | speed vs Haiku | forward ms | step / forward |",
                              "| model | rnnjax | public code |"],
    "bench_members": ["| members | steps | vmapped member-steps/s | mapped member-steps/s | mapped / vmapped |"],
    "bench_determinism": ["| members | deterministic ops | population | repeats bitwise | alone vs population: max "
                          "|Δ params| | |Δ final loss| | seconds | vs without |"],
    # measured on a lent GPU (benchmarks/gpu.sh), never hand-made
    "bench_cells_gpu": ["| implementation | H10 T200 | H128 T100 | H512 T1000 |"],
    "bench_throughput_gpu": ["| population | K=1, 1 device | K=16, 1 device | K=64, 1 device |",
                             "| main job | wall time | programs compiled | XLA compilation |"],
}
"""The header rows of the notes' tables (the CPU ones were hand-made before; the throughput main job's
figures were prose there)."""


@pytest.mark.parametrize("name", sorted(HAND_HEADERS))
def test_each_committed_report_renders_the_notes_table_and_its_table_md_is_current(name):
    report = json.loads((DOCS / name / "benchmark.json").read_text())
    table = tables.render(report)
    assert headers(table) == HAND_HEADERS[name]
    assert (DOCS / name / "table.md").read_text() == table, f"regenerate docs/results/{name}/table.md"
    assert (DOCS / name / "SOURCE").read_text().startswith(("`python benchmarks/", "`bash benchmarks/gpu.sh")), \
        "SOURCE names the command"


def test_every_committed_benchmark_report_has_an_expected_header():
    assert sorted(path.parent.name for path in DOCS.glob("bench_*/benchmark.json")) == sorted(HAND_HEADERS)


def test_an_unknown_report_raises_naming_its_keys():
    with pytest.raises(ValueError, match=r"\['backend', 'rows'\]"):
        tables.render({"backend": "cpu", "rows": []})
    with pytest.raises(ValueError, match="'something else'"):
        tables.render({"benchmark": "something else", "results": []})


def test_publish_prints_the_json_and_writes_the_report_only_given_a_directory(tmp_path, capsys):
    report = {"populations": [{"population": 1, "steps_per_call": 1, "devices": 1, "member_steps_per_s": 244.78,
                               "vs_baseline": 1.0}]}
    tables.publish(report, None)
    assert json.loads(capsys.readouterr().out) == report and not list(tmp_path.iterdir())
    tables.publish(report, tmp_path)
    assert json.loads(capsys.readouterr().out) == report and (tmp_path / "table.md").exists()


def test_write_report_writes_the_json_and_the_table(tmp_path):
    report = {"benchmark": "memory-augmented LSTM train step", "results": [
        {"impl": "lstm", "T": 64, "tokens_per_s": 464469, "speed_vs_lstm": 1.0, "compiled_bytes": 7846456}]}
    out = tables.write_report(report, tmp_path / "run")
    assert json.loads((out / "benchmark.json").read_text()) == report
    assert (out / "table.md").read_text() == tables.render(report)
    assert "| lstm | 464.5k (1.00×) | 8 MB |" in (out / "table.md").read_text()
    with pytest.raises(ValueError):
        tables.write_report({"unknown": 1}, tmp_path / "unknown")
    assert not (tmp_path / "unknown").exists(), "an unknown report writes nothing"


def test_the_cli_prints_the_table(tmp_path, capsys):
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"populations": [{"population": 1, "steps_per_call": 1, "devices": 1,
                                                  "member_steps_per_s": 244.78, "vs_baseline": 1.0}]}))
    assert tables.main([str(path)]) == 0
    assert "| 1 | 245 (1.00×) |" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["cells", "qrnn", "chomsky", "throughput", "memory", "nondeterministic_stack"])
def test_every_benchmark_script_takes_out_and_writes_through_tables(script):
    source = (BENCHMARKS / f"{script}.py").read_text()
    assert "tables.add_out_option(parser)" in source and "\nimport tables\n" in source
    assert "tables.publish(report, args.out)" in source


def test_a_main_job_only_throughput_report_renders_without_populations():
    report = {"benchmark": "training throughput", "main_job": {
        "from_scratch": {"wall_s": 130.5}, "warm_cache": {"wall_s": 64.0, "compilations": 0, "compile_s": 1.5},
        "same_table": True}}
    table = tables.render(report)
    assert headers(table) == ["| main job | wall time | programs compiled | XLA compilation |"]
    assert "| from scratch | 130.5 s | - | - |" in table and "| warm cache | 64.0 s | 0 | 1.50 s |" in table
