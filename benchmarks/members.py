"""What bit-identical members cost: a sweep's members mapped (each its own compiled call,
the CPU default) against vmapped (one batched program), through ``rnnjax train``.

For each population size M, M seeds of the main job's LSTM arm (counting ``lstm_anbn``:
hidden 10, embedding 3, batch 32, a^n b^n for n < 100) train ``--steps`` steps and are
evaluated up to n = 100, in a fresh process on every device of this machine (one per
core on CPU), once with ``--members map`` and once with ``--members vmap``. Each is run
twice with one compilation cache and the second run is timed, so compilation is not in
the figure. Baseline (same run): ``vmap``, the trainer before members were mapped.
Prints JSON: wall seconds and member-steps/s of each, and map / vmap.

    python benchmarks/members.py                   # M = 1, 3, 8, 32; 1000 steps
    python benchmarks/members.py --quick           # M = 1, 8; 300 steps
    python benchmarks/members.py --out DIR         # also DIR/benchmark.json and DIR/table.md
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

REPO = Path(__file__).resolve().parents[1]


def sweep_seconds(size: int, steps: int, mode: str, cache: Path, out: Path) -> float:
    """Wall seconds of the second of two identical runs (the first fills ``cache``)."""
    argv = ["train", "--experiment", "counting", "--arms", "lstm_anbn", "--seeds", *map(str, range(size)),
            "--steps", str(steps), "--eval-n-max", "100", "--members", mode, "--no-progress"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_FLAGS"))}
    env["RNNJAX_CACHE_DIR"] = str(cache)
    seconds = []
    for attempt in ("compile", "timed"):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "rnnjax.cli", *argv, "--out", str(out / f"{mode}{size}{attempt}")],
                              capture_output=True, text=True, env=env, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        seconds.append(time.perf_counter() - start)
    return seconds[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="M = 1, 8; 300 steps")
    parser.add_argument("--populations", type=int, nargs="+", help="population sizes (default 1 3 8 32)")
    parser.add_argument("--steps", type=int, help="training steps (default 1000)")
    tables.add_out_option(parser)
    args = parser.parse_args()
    import jax

    from rnnjax.devices import cpu_cores

    sizes = args.populations or ([1, 8] if args.quick else [1, 3, 8, 32])
    steps = args.steps or (300 if args.quick else 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            row = {"population": size, "steps": steps}
            for mode in ("vmap", "map"):
                seconds = sweep_seconds(size, steps, mode, Path(tmp) / "cache", Path(tmp))
                row[f"{mode}_s"], row[f"{mode}_member_steps_per_s"] = seconds, size * steps / seconds
            row["map_vs_vmap"] = row["map_member_steps_per_s"] / row["vmap_member_steps_per_s"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    tables.publish({
        "benchmark": "members mapped vs vmapped",
        "config": "counting lstm_anbn: LSTM hidden 10, embedding 3, batch 32, anbn n<100, eval n<=100",
        "backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "cores": cpu_cores(),
        "rows": rows,
    }, args.out)


if __name__ == "__main__":
    main()
