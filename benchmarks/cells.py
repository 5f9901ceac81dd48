"""Train-step throughput of rnnjax cells vs flax's cells under ``nnx.RNN``, and vs torch.

Prints JSON: one record per (implementation, shape) with milliseconds per
train step (forward + backward + Adam) and tokens/s, and for each rnnjax
LSTM/GRU variant its speed relative to the flax baseline on the same shape and,
when torch is importable (it is not a dependency), to ``torch.nn.LSTM`` /
``torch.nn.GRU`` (same shapes, same loss, same run).

    python benchmarks/cells.py              # batch 32, hidden {10, 128, 512}, T {100 or 200, 1000}
    python benchmarks/cells.py --quick      # hidden 128, T 100 only
    python benchmarks/cells.py --shapes 10x200 128x1000   # hidden x T
    python benchmarks/cells.py --out DIR    # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

import jax
import jax.numpy as jnp
import optax
import tables
from flax import nnx
from timing import best_time

import rnnjax
from rnnjax import cells

BATCH = 32


def make_rnnjax(cell, hidden):
    params = cell.init(jax.random.key(0), hidden)

    def loss(params, xs):
        return jnp.mean(jax.vmap(lambda x: rnnjax.scan(cell, params, x)[1])(xs) ** 2)

    return loss, params


def make_flax(cell_type, hidden):
    model = nnx.RNN(cell_type(hidden, hidden, rngs=nnx.Rngs(0)))
    carry = model.cell.initialize_carry((BATCH, hidden), rngs=nnx.Rngs(1))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(params, xs):
        return jnp.mean(nnx.merge(graphdef, params, rest)(xs, initial_carry=carry) ** 2)

    return loss, params


def time_train_step(loss, params, hidden, length, min_seconds=2.0, max_reps=20):
    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(params, opt_state, xs):
        grads = jax.grad(loss)(params, xs)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    xs = jax.random.normal(jax.random.key(1), (BATCH, length, hidden))
    opt_state = optimizer.init(params)
    return best_time(step, params, opt_state, xs, min_seconds=min_seconds, max_reps=max_reps)


TORCH_STEP = """
import sys, time
import torch
kind, hidden, length, batch, min_seconds, max_reps = sys.argv[1], *map(float, sys.argv[2:7])
hidden, length, batch, max_reps = int(hidden), int(length), int(batch), int(max_reps)
use_cuda = sys.argv[7] == "gpu" and torch.cuda.is_available()
device = "cuda" if use_cuda else "cpu"
torch.manual_seed(0)
model = getattr(torch.nn, kind)(hidden, hidden, batch_first=True).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
xs = torch.randn(batch, length, hidden, device=device)

def step():
    optimizer.zero_grad()
    model(xs)[0].pow(2).mean().backward()
    optimizer.step()
    if use_cuda:
        torch.cuda.synchronize()

step()
times = []
while len(times) < 2 or (sum(times) < min_seconds and len(times) < max_reps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
where = "cudnn" if use_cuda else f"{torch.get_num_threads()}_threads"
print("SECONDS", min(times), torch.__version__, where)
"""
"""One torch train step (batch first, same loss, Adam), timed in its own process: torch's
idle OpenMP threads spin and would slow the JAX timings that follow in a shared one."""


def torch_step_seconds(kind: str, hidden: int, length: int, min_seconds: float = 2.0, max_reps: int = 20):
    """``(seconds of the fastest train step of torch.nn.LSTM/GRU, torch version)``, or None without torch."""
    done = subprocess.run([sys.executable, "-c", TORCH_STEP, kind, str(hidden), str(length), str(BATCH),
                           str(min_seconds), str(max_reps), jax.default_backend()], capture_output=True, text=True)
    if done.returncode != 0:
        if "No module named 'torch'" in done.stderr:
            return None
        raise RuntimeError(done.stderr[-2000:])
    _, seconds, version, where = done.stdout.split()
    return float(seconds), f"{version} ({where.replace('_', ' ')})"


TORCH = {"torch.nn.LSTM": "LSTM", "torch.nn.GRU": "GRU"}


def candidates(hidden):
    """name -> (loss, params, baselines)."""
    out = {}
    for hoist in (False, True):
        lstm = make_rnnjax(cells.lstm(hidden, hoist=hoist), hidden)
        out[f"rnnjax.lstm(hoist={hoist})"] = (*lstm, ("flax.OptimizedLSTMCell", "torch.nn.LSTM"))
        out[f"rnnjax.gru(reset=after, hoist={hoist})"] = (
            *make_rnnjax(cells.gru(hidden, reset="after", hoist=hoist), hidden),
            ("flax.GRUCell", "torch.nn.GRU"),
        )
    gru_before = make_rnnjax(cells.gru(hidden, hoist=False), hidden)
    out["rnnjax.gru(reset=before, hoist=False)"] = (*gru_before, ("flax.GRUCell", "torch.nn.GRU"))
    out["rnnjax.elman(tanh, hoist=False)"] = (*make_rnnjax(cells.elman(hidden, hoist=False), hidden), ())
    out["flax.OptimizedLSTMCell"] = (*make_flax(nnx.OptimizedLSTMCell, hidden), ())
    out["flax.GRUCell"] = (*make_flax(nnx.GRUCell, hidden), ())
    return out


def _record(name: str, hidden: int, length: int, seconds: float) -> dict:
    return {"impl": name, "batch": BATCH, "hidden": hidden, "T": length, "ms_per_step": round(1e3 * seconds, 2),
            "tokens_per_s": round(BATCH * length / seconds)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="hidden 128, T 100 only")
    parser.add_argument("--shapes", nargs="+", metavar="HxT", help="hidden x T pairs, e.g. 10x200 128x1000")
    tables.add_out_option(parser)
    args = parser.parse_args()
    shapes = [(128, 100)] if args.quick else [(10, 200), (128, 100), (128, 1000), (512, 100), (512, 1000)]
    if args.shapes:
        shapes = [tuple(int(v) for v in shape.lower().split("x")) for shape in args.shapes]
    records, torch_version = [], None

    def add(record: dict, baselines: tuple[str, ...]) -> None:
        records.append((record, baselines))
        print(json.dumps(record), file=sys.stderr, flush=True)  # as measured: a run cut short keeps its rows

    for hidden, length in shapes:
        timed = {}
        for name, (loss, params, baselines) in candidates(hidden).items():
            timed[name] = time_train_step(loss, params, hidden, length)
            add(_record(name, hidden, length, timed[name]), baselines)
        for name, kind in TORCH.items():
            measured = torch_step_seconds(kind, hidden, length)
            if measured is not None:
                timed[name], torch_version = measured
                add(_record(name, hidden, length, timed[name]), ())
        for record, baselines in records[-len(timed) :]:
            for baseline in baselines:
                if baseline in timed:
                    record["speed_vs_" + baseline] = round(timed[baseline] / timed[record["impl"]], 3)
    report = {
        "benchmark": "cells train step (fwd+bwd+adam)",
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "cpu": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "torch": torch_version,
        "results": [r for r, _ in records],
    }
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
