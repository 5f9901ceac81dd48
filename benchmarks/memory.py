"""Train-step throughput and memory of memory-augmented LSTMs vs the plain LSTM.

Prints JSON: per memory and T, milliseconds per train step (forward +
backward + Adam, batch 32, LSTM hidden 64, memory width 8), tokens/s, its
speed relative to the plain LSTM in the same run, and the bytes XLA reports
for the compiled step (arguments + outputs + temporaries). Each memory runs
with the default ``remat_block`` (checkpointed blocks) and without it. The
NTM rows (32 slots) time the soft heads and the hard heads' mode path (an
unseeded state: the REINFORCE draws add one Gumbel sample per head and step).

    python benchmarks/memory.py                   # T in {64, 128, 512}
    python benchmarks/memory.py --quick           # T = 64
    python benchmarks/memory.py --only ntm tape   # these memories (and the LSTM baseline)
    python benchmarks/memory.py --out DIR         # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
import tables
from timing import best_time, compiled_bytes

import rnnjax
from rnnjax import cells, memory

BATCH, HIDDEN, WIDTH, INPUT = 32, 64, 8, 16


def candidates(length, only=()):
    lstm = cells.lstm(HIDDEN)
    memories = {
        "stack": memory.stack(WIDTH),
        "queue": memory.queue(WIDTH),
        "deque": memory.deque(WIDTH),
        "superposition": memory.superposition_stack(WIDTH, stacks=2),
        "tape": memory.tape(WIDTH),
        "ntm": memory.ntm(32, WIDTH),
        "ntm hard": memory.ntm(32, WIDTH, addressing="hard"),
    }
    out = {"lstm": lstm}
    for name, m in memories.items():
        if only and not any(o in name for o in only):
            continue
        out[f"lstm+{name}"] = memory.augment(lstm, m, capacity=length)
        out[f"lstm+{name} (no remat)"] = memory.augment(lstm, m, capacity=length, remat_block=None)
    return out


def measure(cell, length):
    params = cell.init(jax.random.key(0), INPUT)
    optimizer = optax.adam(1e-3)
    xs = jax.random.normal(jax.random.key(1), (BATCH, length, INPUT))

    def loss(params):
        return jnp.mean(jax.vmap(lambda x: rnnjax.scan(cell, params, x)[1])(xs) ** 2)

    @jax.jit
    def step(params, opt_state):
        updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    opt_state = optimizer.init(params)
    nbytes = compiled_bytes(step.lower(params, opt_state).compile())
    return best_time(step, params, opt_state, min_reps=3), nbytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=(), help="memories whose names contain one of these")
    parser.add_argument("--lengths", nargs="*", type=int, default=None, help="T values (default 64 128 512)")
    tables.add_out_option(parser)
    args = parser.parse_args()
    records = []
    for length in args.lengths or ((64,) if args.quick else (64, 128, 512)):
        timed = {name: measure(cell, length) for name, cell in candidates(length, args.only).items()}
        for name, (seconds, nbytes) in timed.items():
            records.append({
                "impl": name, "T": length, "batch": BATCH, "ms_per_step": round(1e3 * seconds, 2),
                "tokens_per_s": round(BATCH * length / seconds), "speed_vs_lstm": round(timed["lstm"][0] / seconds, 3),
                "compiled_bytes": nbytes,
            })
    report = {"benchmark": "memory-augmented LSTM train step", "backend": jax.default_backend(),
              "jax": jax.__version__, "results": records}
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
