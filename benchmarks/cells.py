"""Train-step throughput of rnnjax cells vs flax's cells under ``nnx.RNN``.

Prints JSON: one record per (implementation, shape) with milliseconds per
train step (forward + backward + Adam) and tokens/s, and for each rnnjax
LSTM/GRU variant its speed relative to the flax baseline on the same shape.

    python benchmarks/cells.py              # batch 32, hidden {128, 512}, T {100, 1000}
    python benchmarks/cells.py --quick      # hidden 128, T 100 only
"""

from __future__ import annotations

import argparse
import json
import platform

import jax
import jax.numpy as jnp
import optax
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


def candidates(hidden):
    """name -> (loss, params, baseline name or None)."""
    out = {}
    for hoist in (False, True):
        lstm = make_rnnjax(cells.lstm(hidden, hoist=hoist), hidden)
        out[f"rnnjax.lstm(hoist={hoist})"] = (*lstm, "flax.OptimizedLSTMCell")
        out[f"rnnjax.gru(reset=after, hoist={hoist})"] = (
            *make_rnnjax(cells.gru(hidden, reset="after", hoist=hoist), hidden),
            "flax.GRUCell",
        )
    gru_before = make_rnnjax(cells.gru(hidden, hoist=False), hidden)
    out["rnnjax.gru(reset=before, hoist=False)"] = (*gru_before, "flax.GRUCell")
    out["rnnjax.elman(tanh, hoist=False)"] = (*make_rnnjax(cells.elman(hidden, hoist=False), hidden), None)
    out["flax.OptimizedLSTMCell"] = (*make_flax(nnx.OptimizedLSTMCell, hidden), None)
    out["flax.GRUCell"] = (*make_flax(nnx.GRUCell, hidden), None)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    shapes = [(128, 100)] if args.quick else [(128, 100), (128, 1000), (512, 100), (512, 1000)]
    records = []
    for hidden, length in shapes:
        timed = {}
        for name, (loss, params, baseline) in candidates(hidden).items():
            timed[name] = time_train_step(loss, params, hidden, length)
            record = {
                "impl": name,
                "batch": BATCH,
                "hidden": hidden,
                "T": length,
                "ms_per_step": round(1e3 * timed[name], 2),
                "tokens_per_s": round(BATCH * length / timed[name]),
            }
            records.append((record, baseline))
        for record, baseline in records[-len(timed) :]:
            if baseline is not None:
                record["speed_vs_" + baseline] = round(timed[baseline] / timed[record["impl"]], 3)
    print(
        json.dumps(
            {
                "benchmark": "cells train step (fwd+bwd+adam)",
                "backend": jax.default_backend(),
                "device": str(jax.devices()[0].device_kind),
                "cpu": platform.processor() or platform.machine(),
                "jax": jax.__version__,
                "results": [r for r, _ in records],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
