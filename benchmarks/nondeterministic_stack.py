"""Time and memory of an RNS-RNN train step (forward + backward) by length.

Prints JSON: per n and variant, seconds per train step and per time step, and the
bytes XLA reports for the compiled step (arguments + outputs + temporaries), for
an LSTM controller (hidden 20) with an RNS stack (Q = 2, S = 3), batch 10, in
the log semiring. Variants: checkpointed blocks of 16 steps (the default
``augment(..., remat_block=16)``), no checkpointing (the naive scan that keeps
every step's γ for the backward pass), and a window of 16; the plain LSTM is the
named baseline.

    python benchmarks/nondeterministic_stack.py            # n in {32, 64, 128}
    python benchmarks/nondeterministic_stack.py --quick    # n = 32
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp

import rnnjax
from rnnjax import cells, memory

BATCH, HIDDEN, INPUT = 10, 20, 4


def variants(n: int) -> dict:
    lstm = cells.lstm(HIDDEN)
    rns = memory.nondeterministic_stack(2, 3)
    return {
        "lstm (baseline)": lstm,
        "rns, remat blocks of 16": memory.augment(lstm, rns, capacity=n),
        "rns, no remat": memory.augment(lstm, rns, capacity=n, remat_block=None),
        "rns, window 16": memory.augment(lstm, memory.nondeterministic_stack(2, 3, window=16), capacity=n),
    }


def measure(cell, n: int) -> tuple[float, int]:
    params = cell.init(jax.random.key(0), INPUT)
    xs = jax.random.normal(jax.random.key(1), (BATCH, n, INPUT))

    def loss(params):
        return jnp.mean(jax.vmap(lambda x: rnnjax.scan(cell, params, x)[1])(xs) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    stats = step.lower(params).compile().memory_analysis()
    jax.block_until_ready(step(params))
    times = []
    while sum(times) < 2.0 or len(times) < 3:
        start = time.perf_counter()
        jax.block_until_ready(step(params))
        times.append(time.perf_counter() - start)
    return min(times), int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    records = []
    for n in (32,) if args.quick else (32, 64, 128):
        timed = {name: measure(cell, n) for name, cell in variants(n).items()}
        for name, (seconds, nbytes) in timed.items():
            records.append({
                "impl": name, "n": n, "batch": BATCH, "s_per_batch": round(seconds, 4),
                "ms_per_time_step": round(1e3 * seconds / n, 3), "compiled_bytes": nbytes,
                "slowdown_vs_lstm": round(seconds / timed["lstm (baseline)"][0], 1),
            })
    print(json.dumps({"benchmark": "RNS-RNN train step (fwd+bwd)", "backend": jax.default_backend(),
                      "device": str(jax.devices()[0]), "jax": jax.__version__, "Q": 2, "S": 3,
                      "results": records}, indent=1))


if __name__ == "__main__":
    main()
