"""QRNN speed: associative vs sequential recurrence, and a QRNN layer vs an LSTM layer.

Prints JSON records of milliseconds per call (best of repeats), forward and
forward+backward, over batch x T, each with the ratio against its baseline in
the same run: the sequential scan for the recurrence, the LSTM layer of the
same width for the QRNN layer.

    python benchmarks/qrnn.py                 # batch {8, 32, 128} x T {128, 512, 2048, 8192}, H 256
    python benchmarks/qrnn.py --quick         # batch {8, 32} x T {128, 512}
    python benchmarks/qrnn.py --hidden 128 --layer-max-tokens 300000
    python benchmarks/qrnn.py --out DIR       # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import platform

import jax
import jax.numpy as jnp
import tables
from timing import best_time

import rnnjax
from rnnjax import cells
from rnnjax.cells.qrnn import linear_recurrence


def timed(loss, args, mode):
    """``loss(*args) -> scalar``; forward, or forward+backward w.r.t. the first argument."""
    fn = jax.jit(loss if mode == "fwd" else jax.grad(loss))
    return best_time(fn, *args, max_reps=10)


def records(what, timings, baseline, batch, length, hidden):
    """One JSON record per ``(impl, mode) -> seconds``, with the speed-up over ``baseline``."""
    return [
        {"what": what, "impl": impl, "mode": mode, "batch": batch, "T": length, "hidden": hidden,
         "ms": round(1e3 * t, 3), f"speedup_vs_{baseline}": round(timings[(baseline, mode)] / t, 3)}
        for (impl, mode), t in timings.items()
    ]


def recurrence_records(batch, length, hidden):
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.nn.sigmoid(jax.random.normal(key_a, (batch, length, hidden)))
    b = jax.random.normal(key_b, (batch, length, hidden))
    c0 = jnp.zeros((batch, hidden))
    out = {}
    for method in ("associative", "sequential"):
        run = jax.vmap(lambda a, b, c: linear_recurrence(a, b, c, method))

        def loss(a, b, run=run):
            return jnp.sum(run(a, b, c0) ** 2)

        for mode in ("fwd", "fwd+bwd"):
            out[(method, mode)] = timed(loss, (a, b), mode)
    return records("recurrence", out, "sequential", batch, length, hidden)


def layer_records(batch, length, hidden):
    xs = jax.random.normal(jax.random.key(1), (batch, length, hidden))
    layers = {
        "qrnn(fo, k=2, associative)": cells.qrnn(hidden, width=2, recurrence="associative"),
        "qrnn(fo, k=2, sequential)": cells.qrnn(hidden, width=2, recurrence="sequential"),
        "lstm": cells.lstm(hidden),
    }
    out = {}
    for name, cell in layers.items():
        params = cell.init(jax.random.key(0), hidden)

        def loss(params, xs, cell=cell):
            return jnp.sum(jax.vmap(lambda x: rnnjax.scan(cell, params, x)[1])(xs) ** 2)

        for mode in ("fwd", "fwd+bwd"):
            out[(name, mode)] = timed(loss, (params, xs), mode)
    return records("layer", out, "lstm", batch, length, hidden)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument(
        "--layer-max-tokens", type=int, default=None,
        help="skip layer comparisons with batch*T above this (CPU time); default: no limit",
    )
    tables.add_out_option(parser)
    args = parser.parse_args()
    batches, lengths = ((8, 32), (128, 512)) if args.quick else ((8, 32, 128), (128, 512, 2048, 8192))
    records, skipped = [], []
    for batch in batches:
        for length in lengths:
            records += recurrence_records(batch, length, args.hidden)
            if args.layer_max_tokens is None or batch * length <= args.layer_max_tokens:
                records += layer_records(batch, length, args.hidden)
            else:
                skipped.append({"batch": batch, "T": length})
    report = {
        "benchmark": "qrnn recurrence and layer", "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind), "cpu": platform.processor() or platform.machine(),
        "jax": jax.__version__, "layer_shapes_skipped": skipped, "results": records,
    }
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
