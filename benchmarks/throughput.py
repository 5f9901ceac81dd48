"""Training throughput of small models: populations, steps per call, devices, and the main job's wall time.

Prints JSON with two parts:

- ``populations``: steady-state member-steps/s (compilation excluded: timed after a
  warm-up call) on the main job's configuration (LSTM hidden 10, embedding 3,
  batch 32, a^n b^n for n < 100 in 4 length buckets) for each population size,
  steps per call K and CPU device count. Baseline (same run): one member, K = 1,
  one device, i.e. the trainer before many-steps-per-call and one device per core.
- ``main_job``: ``rnnjax train --experiment counting`` in a fresh process with an
  empty compilation cache (from scratch), then again with the warm cache: wall
  seconds, programs compiled, seconds in XLA compilation, and the LSTM/GRU table
  of each (same numbers expected).

    python benchmarks/throughput.py            # populations 1, 8, 64 x K 1, 16, 64 x 1 and all devices; main job
    python benchmarks/throughput.py --quick    # populations 1, 8 x K 1, 16; no main job
    python benchmarks/throughput.py --populations 1 8 64 256 --steps-per-call 1 16 64 --no-main-job
    python benchmarks/throughput.py --main-job-only
    python benchmarks/throughput.py --out DIR  # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tables

WORKER = """
import json, sys
import jax
jax.config.update("jax_num_cpu_devices", int(sys.argv[1]))
sys.path.insert(0, sys.argv[2])
from throughput import measure_populations
print("RESULT", json.dumps(measure_populations(json.loads(sys.argv[3]), json.loads(sys.argv[4]))))
"""

MAIN_JOB = """
import json, sys, time
from rnnjax.cli import main
from rnnjax.compilation import compile_record
start = time.perf_counter()
_, count, seconds = compile_record(lambda: main(sys.argv[1:]))
print("RESULT", json.dumps({"wall_s": time.perf_counter() - start, "compilations": count, "compile_s": seconds}))
"""


def counting_config():
    from rnnjax.train.experiment import load_experiment

    return load_experiment("counting").arms["lstm_anbn"]


def measure_populations(populations: list[int], steps_per_call: list[int]) -> list[dict]:
    """Steady-state member-steps/s of each (population, K) on this process's devices."""
    import jax

    from rnnjax.train.build import build
    from rnnjax.train.loop import population_program, run_loop, set_up

    cfg = counting_config()
    parts = build(cfg)
    rows = []
    for k in steps_per_call:
        program = population_program(parts, k)
        for size in populations:
            members = [cfg.replace(seed=s) for s in range(size)]

            def run(steps: int) -> float:
                population = set_up(parts, members)
                population.first = cfg.run.steps - steps
                start = time.perf_counter()
                state, _, _ = run_loop(parts, population, program, k, {}, None, progress=False)
                jax.block_until_ready(state)
                return time.perf_counter() - start

            run(k)  # compiles
            steps = max(2 * k, {1: 600, 8: 160}.get(size, 64))
            seconds = run(steps)
            rows.append({"population": size, "steps_per_call": k, "devices": jax.device_count(),
                         "steps_per_s": steps / seconds, "member_steps_per_s": size * steps / seconds})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _result(done: subprocess.CompletedProcess) -> dict | list:
    if done.returncode != 0:
        raise RuntimeError((done.stderr or "see the worker's output above")[-3000:])
    return json.loads(done.stdout.split("RESULT", 1)[1])


def populations_table(populations: list[int], steps_per_call: list[int], device_counts: list[int]) -> list[dict]:
    def measure(devices: int, populations: list[int], steps_per_call: list[int]) -> list[dict]:
        # the worker's stderr (one JSON line per row, as measured) passes through
        done = subprocess.run([sys.executable, "-c", WORKER, str(devices), str(Path(__file__).parent),
                               json.dumps(populations), json.dumps(steps_per_call)], stdout=subprocess.PIPE, text=True)
        return _result(done)

    rows = [row for devices in device_counts for row in measure(devices, populations, steps_per_call)]
    is_base = lambda r: (r["population"], r["steps_per_call"], r["devices"]) == (1, 1, 1)  # noqa: E731
    if not any(map(is_base, rows)):  # the baseline is measured in every run
        rows += measure(1, [1], [1])
    base = next(filter(is_base, rows))
    for r in rows:
        r["vs_baseline"] = r["member_steps_per_s"] / base["member_steps_per_s"]
    return rows


def main_job() -> dict:
    """The README's main job from scratch, then with the warm cache."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_FLAGS"))}
        env["RNNJAX_CACHE_DIR"] = str(Path(tmp) / "cache")
        for name in ("from_scratch", "warm_cache"):
            argv = ["train", "--experiment", "counting", "--no-progress", "--out", str(Path(tmp) / name)]
            done = subprocess.run([sys.executable, "-c", MAIN_JOB, *argv], capture_output=True, text=True, env=env,
                                  cwd=Path(__file__).resolve().parents[1])
            out[name] = _result(done)
            summary = Path(tmp) / name / "counting" / "summary.md"
            out[name]["table"] = summary.read_text() if summary.exists() else ""
            print(json.dumps({k: v for k, v in out[name].items() if k != "table"}), file=sys.stderr, flush=True)
    out["same_table"] = out["from_scratch"]["table"] == out["warm_cache"]["table"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="populations 1, 8 x K 1, 16; no main job")
    parser.add_argument("--populations", type=int, nargs="+", help="population sizes (default 1 8 64)")
    parser.add_argument("--steps-per-call", type=int, nargs="+", help="values of K (default 1 16 64)")
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--no-main-job", action="store_true", help="skip the main job's wall times")
    parts.add_argument("--main-job-only", action="store_true", help="only the main job's wall times")
    tables.add_out_option(parser)
    args = parser.parse_args()
    # this process only reads the backend; its workers train, each on the same accelerator
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax

    from rnnjax.devices import cpu_cores

    populations, steps_per_call = ([1, 8], [1, 16]) if args.quick else ([1, 8, 64], [1, 16, 64])
    backend = jax.default_backend()
    # one device per core is a CPU layout; an accelerator's devices are what they are
    device_counts = sorted({1, cpu_cores()}) if backend == "cpu" else [1]
    report = {
        "benchmark": "training throughput",
        "config": "counting lstm_anbn: LSTM hidden 10, embedding 3, batch 32, anbn n<100, 4 buckets",
        "backend": backend,
        "device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "cores": cpu_cores(),
    }
    if not args.main_job_only:
        report["populations"] = populations_table(args.populations or populations,
                                                  args.steps_per_call or steps_per_call, device_counts)
    if not (args.quick or args.no_main_job):
        report["main_job"] = main_job()
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
