"""Repeatability and layout tolerance on this machine's backend, and what deterministic ops cost.

For each way members train (``--members map`` and ``vmap``) and, on a GPU, with and
without ``--deterministic`` (``--xla_gpu_deterministic_ops``), ``rnnjax train`` trains
the main job's LSTM arm (counting ``lstm_anbn``, evaluated up to n = 100) three times in
fresh processes on every device: a population of M seeds twice, and seed 0 alone.
Reported per setting:

- ``repeats``: the two population runs give bit-identical params for every member;
- ``layout_max_abs_diff``: the largest |difference| between seed 0's params in the
  population and alone (0.0: bit-identical), and the same for its final loss;
- ``seconds``: the wall time of the second population run (the compilation cache is
  warm by then), and its ratio to the same setting without deterministic ops.

    python benchmarks/determinism.py                # M = 64, 1000 steps
    python benchmarks/determinism.py --quick        # M = 4, 100 steps
    python benchmarks/determinism.py --out DIR      # also DIR/benchmark.json and DIR/table.md
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


def train(out: Path, seeds: list[int], steps: int, mode: str, deterministic: bool, cache: Path) -> float:
    """Wall seconds of one ``rnnjax train`` of ``seeds`` into ``out``."""
    argv = ["train", "--experiment", "counting", "--arms", "lstm_anbn", "--seeds", *map(str, seeds), "--steps",
            str(steps), "--eval-n-max", "100", "--members", mode, "--no-progress", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_PLATFORMS",)}
    env |= {"RNNJAX_CACHE_DIR": str(cache), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rnnjax.cli", *argv, *(["--deterministic"] * deterministic)],
                          capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return time.perf_counter() - start


def member(out: Path, seed: int):
    """``(flat params, final loss)`` of ``seed``'s run under ``out``."""
    import numpy as np

    from rnnjax.train.runs import load_run

    run = load_run(out / "counting" / "lstm_anbn" / f"seed{seed}")
    import jax

    flat = np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in jax.tree_util.tree_leaves(run.params)])
    return flat, run.results["final_loss"]


def measure(mode: str, deterministic: bool, size: int, steps: int, tmp: Path) -> dict:
    import numpy as np

    name = f"{mode}{'-deterministic' if deterministic else ''}"
    cache = tmp / f"cache-{name}"
    seeds = list(range(size))
    train(tmp / f"{name}-warm", seeds, steps, mode, deterministic, cache)
    seconds = train(tmp / f"{name}-a", seeds, steps, mode, deterministic, cache)
    train(tmp / f"{name}-b", seeds, steps, mode, deterministic, cache)
    train(tmp / f"{name}-alone", [0], steps, mode, deterministic, cache)
    repeats = all(np.array_equal(member(tmp / f"{name}-a", s)[0], member(tmp / f"{name}-b", s)[0]) for s in seeds)
    (together, loss_together), (alone, loss_alone) = member(tmp / f"{name}-a", 0), member(tmp / f"{name}-alone", 0)
    return {"members": mode, "deterministic": deterministic, "population": size, "steps": steps,
            "repeats": bool(repeats), "layout_max_abs_diff": float(np.max(np.abs(together - alone))),
            "layout_loss_diff": float(abs(loss_together - loss_alone)), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="M = 4, 100 steps")
    parser.add_argument("--population", type=int, help="members of the population runs (default 64)")
    parser.add_argument("--steps", type=int, help="training steps (default 1000)")
    tables.add_out_option(parser)
    args = parser.parse_args()
    backend = subprocess.run([sys.executable, "-c", "import jax; print(jax.default_backend(), "
                              "jax.devices()[0].device_kind, sep='|')"], capture_output=True, text=True,
                             env={**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}).stdout.strip().split("|")
    os.environ["JAX_PLATFORMS"] = "cpu"  # this process only reads the runs back
    size = args.population or (4 if args.quick else 64)
    steps = args.steps or (100 if args.quick else 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("map", "vmap"):
            for deterministic in ((False, True) if backend[0] == "gpu" else (False,)):
                rows.append(measure(mode, deterministic, size, steps, Path(tmp)))
                plain = next(r for r in rows if r["members"] == mode and not r["deterministic"])
                rows[-1]["vs_plain"] = rows[-1]["seconds"] / plain["seconds"]
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    tables.publish({"benchmark": "determinism", "backend": backend[0], "device": backend[-1],
                    "config": "counting lstm_anbn, eval n<=100", "rows": rows}, args.out)


if __name__ == "__main__":
    main()
