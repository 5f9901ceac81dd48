"""Why a population scales as it does on this machine: cost per member-timestep.

A vmapped population trains M members in one program. It gains throughput only if
one member-timestep of the batched program costs less than one of a single member.
This script measures that cost directly, on one device, for the main job's cell (LSTM
hidden 10, embedding 3, batch 32, T 125: the mean padded length of its buckets):
forward + backward of ``M`` members (``jax.grad`` of a vmapped ``rnnjax.scan``),
microseconds per member-timestep, against M = 1 in the same run. ``ceiling`` is the
speed-up over one member that the measured cost allows a population of M on
``--cores`` cores (one device per core, no other overhead): ``cores * cost(1) / cost(M)``.

It also times, per member-timestep, the two kinds of work a step cannot avoid, each
alone in its own program over the same ``M`` members: the gates' matmul
``[M, 32, 13] x [M, 13, 40]`` (the backward pass has two more of its size) and the
gates' activations ``tanh(x) * sigmoid(y)`` over ``[M, 32, 40]``. What the step costs
beyond ``3 * matmul + activations`` is the scan's per-step work on small arrays.

    python benchmarks/population_cost.py                      # M 1, 8, 32, 64
    python benchmarks/population_cost.py --members 1 64 256
    python benchmarks/population_cost.py --quick              # M 1, 8
    python benchmarks/population_cost.py --out DIR            # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import platform

import jax
import jax.numpy as jnp
import tables
from cells import make_rnnjax
from timing import best_time

from rnnjax.cells import lstm

HIDDEN, EMBEDDING, BATCH, LENGTH = 10, 3, 32, 125


def member_timestep_us(members: int) -> float:
    cell = lstm(HIDDEN)
    loss, _ = make_rnnjax(cell, EMBEDDING)  # one member's loss over [BATCH, LENGTH, EMBEDDING]
    params = jax.vmap(lambda k: cell.init(k, EMBEDDING))(jax.random.split(jax.random.key(0), members))
    xs = jax.random.normal(jax.random.key(1), (members, BATCH, LENGTH, EMBEDDING))
    grads = jax.jit(jax.vmap(jax.grad(loss)))
    return 1e6 * best_time(grads, params, xs, min_seconds=2.0) / (members * LENGTH)


def floor_us(members: int) -> dict:
    keys = jax.random.split(jax.random.key(2), 3)
    inputs = jax.random.normal(keys[0], (members, BATCH, EMBEDDING + HIDDEN))
    weights = jax.random.normal(keys[1], (members, EMBEDDING + HIDDEN, 4 * HIDDEN))
    gates = jax.random.normal(keys[2], (members, BATCH, 4 * HIDDEN))
    matmul = jax.jit(lambda x, w: jnp.einsum("mbi,mig->mbg", x, w))
    activations = jax.jit(lambda x: jnp.tanh(x) * jax.nn.sigmoid(x[..., ::-1]))
    per_member = lambda fn, *args: 1e6 * best_time(fn, *args, min_seconds=0.5) / members  # noqa: E731
    return {"matmul_us": per_member(matmul, inputs, weights), "activations_us": per_member(activations, gates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--cores", type=int, default=2, help="cores for the ceiling (default: this machine's 2)")
    parser.add_argument("--quick", action="store_true", help="members 1 and 8 only")
    tables.add_out_option(parser)
    args = parser.parse_args()
    sizes = sorted(set([1, 8] if args.quick else args.members) | {1})
    rows = [{"members": m, "us_per_member_timestep": member_timestep_us(m), **floor_us(m)} for m in sizes]
    base = rows[0]["us_per_member_timestep"]
    for r in rows:
        r["cost_vs_one"] = r["us_per_member_timestep"] / base
        r["ceiling"] = args.cores * base / r["us_per_member_timestep"] if r["members"] > 1 else 1.0
    tables.publish({"benchmark": "population cost", "jax": jax.__version__, "backend": jax.default_backend(),
                    "machine": platform.processor() or platform.machine(), "cores": args.cores,
                    "shape": {"hidden": HIDDEN, "embedding": EMBEDDING, "batch": BATCH, "length": LENGTH},
                    "baseline": "one member (M = 1), same run", "rows": rows}, args.out)


if __name__ == "__main__":
    main()
