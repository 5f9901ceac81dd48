"""Siegelmann-Sontag networks under finite precision.

Claim: a stack machine compiled into a saturated-linear RNN is exact in rational
arithmetic; in floating point a stack of depth d needs 2d significand bits, so
push-then-pop-all survives about p/2 pushes for a p-bit significand (about 12
for float32, 26 for float64).

Reproduced means: the largest depth at which binary reversal (w #^|w|) returns
reverse(w) is within one of floor(p/2) for each float type, and unbounded in
exact arithmetic; each compiled machine's float run departs from the exact run
first on inputs whose stacks are about that deep.

    python experiments/finite_precision.py [--out runs/finite_precision] [--quick]

Writes ``finite_precision.json``, ``finite_precision.md`` and ``depth_vs_precision.png``.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from rnnjax.eval.plots import save_figure, subplots
from rnnjax.theory import compile_machine, machines

# dtype -> significand bits p (implicit bit included)
PRECISIONS = {"bfloat16": 8, "float16": 11, "float32": 24, "float64": 53}


def reversal_ok(compiled, words: list[str], dtype) -> bool:
    """Whether ``w #^|w|`` emits reverse(w) for every (equal-length) w, in ``dtype``
    ("exact" = rationals)."""
    inputs = [w + "#" * len(w) for w in words]
    if dtype == "exact":
        runs = [compiled.run_exact(x) for x in inputs]
    else:
        runs = list(compiled.run_float(inputs, dtype))
    return all("".join(s.emitted or "" for s in compiled.decode(h)) == w[::-1] for h, w in zip(runs, words))


def largest_depth(compiled, dtype, max_depth: int, samples: int, rng) -> int:
    """The largest d such that push-then-pop-all is right for every depth <= d
    (``samples`` random strings per depth, plus all-zeros and all-ones)."""
    for d in range(1, max_depth + 1):
        words = ["0" * d, "1" * d] + ["".join(rng.choice(["0", "1"], d)) for _ in range(samples)]
        if not reversal_ok(compiled, words, dtype):
            return d - 1
    return max_depth


def probes(name: str, rng, longest: int):
    """Inputs of a machine in increasing size: ``(label, word, initial stacks)``."""
    if name in ("a^n b^n", "balanced parentheses"):
        a, b = ("a", "b") if name == "a^n b^n" else ("(", ")")
        words = ["".join(w) for k in range(1, 11) for w in itertools.product(a + b, repeat=k)]
        words += [a * n + b * m for n in range(1, longest) for m in (n - 1, n, n + 1)]
        return [(w, w, None) for w in sorted(set(words), key=lambda w: (len(w), w))]
    if name == "binary reversal":
        words = ["".join(w) for k in range(1, 8) for w in itertools.product("01#", repeat=k)]
        for d in range(1, longest):
            w = "".join(rng.choice(["0", "1"], d))
            words.append(w + "#" * d)
        return [(w, w, None) for w in sorted(set(words), key=lambda w: (len(w), w))]
    if name == "binary increment":
        numbers = sorted(set(range(256)) | {2**k - 1 for k in range(1, longest)} | {2**k for k in range(1, longest)})
        out = []
        for n in numbers:
            bits = tuple(int(c) for c in bin(n)[2:][::-1]) if n else ()
            out.append((f"n={n}", "t" * (len(bits) + 2), [(), bits]))
        return out
    return [(f"{k} ticks", "t" * k, None) for k in range(1, 4 * longest)]  # busy beavers, from a blank tape


MACHINES = {
    "a^n b^n": machines.anbn_recogniser,
    "balanced parentheses": machines.balanced_parentheses,
    "binary reversal": machines.binary_reversal,
    "binary increment": lambda: machines.binary_increment().as_stack_machine(),
    "busy beaver 2": lambda: machines.busy_beaver_2().as_stack_machine(),
    "busy beaver 3": lambda: machines.busy_beaver_3().as_stack_machine(),
}


def first_departure(compiled, dtype, inputs) -> tuple[str, int] | None:
    """The first input (and machine step) where the float run's decoded configuration
    (state, stacks, emitted symbol) differs from the direct simulation, which the
    tests pin equal to the exact run. Inputs of one length run as one batch."""
    machine = compiled.machine
    by_length: dict[int, list] = {}
    for item in inputs:
        by_length.setdefault(len(item[1]), []).append(item)
    for length in sorted(by_length):
        group = by_length[length]
        runs = compiled.run_float([w for _, w, _ in group], dtype, [s for _, _, s in group])
        for (label, word, stacks), hs in zip(group, runs):
            expected = machine.run(word, stacks)
            for step, (got, want) in enumerate(zip(compiled.decode(hs), expected)):
                if got != want:
                    return label, step + 1
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/finite_precision")
    parser.add_argument("--quick", action="store_true", help="exact runs to depth 16 only, fewer samples")
    parser.add_argument("--samples", type=int, help="inputs per depth (default 10, 3 with --quick)")
    parser.add_argument("--exact-depth", type=int, help="deepest exact run (default 40, 16 with --quick)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    samples, exact_depth, longest = (3, 16, 32) if args.quick else (10, 40, 40)
    samples, exact_depth = args.samples or samples, args.exact_depth or exact_depth

    reversal = compile_machine(machines.binary_reversal())
    depths = {}
    for dtype in tqdm([*PRECISIONS, "exact"], desc="push-then-pop-all depth"):
        limit = exact_depth if dtype == "exact" else 2 * PRECISIONS[dtype]
        depths[dtype] = largest_depth(reversal, dtype if dtype == "exact" else jnp.dtype(dtype), limit, samples, rng)

    departures = {}
    for name, build in tqdm(MACHINES.items(), desc="first departure"):
        compiled = compile_machine(build())
        inputs = probes(name, np.random.default_rng(1), longest)
        departures[name] = {dtype: first_departure(compiled, jnp.dtype(dtype), inputs) for dtype in PRECISIONS}

    rows = ["| dtype | significand bits p | floor(p/2) | largest depth |", "|---|---|---|---|"]
    for dtype, depth in depths.items():
        p = PRECISIONS.get(dtype)
        shown = f">= {depth} (tested to {depth})" if dtype == "exact" else str(depth)
        rows.append(f"| {dtype} | {p or 'exact'} | {p // 2 if p else '-'} | {shown} |")
    rows += ["", "| machine | " + " | ".join(PRECISIONS) + " |", "|---|" + "---|" * len(PRECISIONS)]
    for name, per_dtype in departures.items():
        cells = [f"{d[0]} (step {d[1]})" if d else "none in probes" for d in per_dtype.values()]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(rows)
    (out / "finite_precision.md").write_text(table + "\n")
    (out / "finite_precision.json").write_text(json.dumps({"depths": depths, "departures": departures}, indent=1))


    fig, ax = subplots(figsize=(6, 4))
    bits = np.array([PRECISIONS[d] for d in PRECISIONS])
    ax.plot(bits, [depths[d] for d in PRECISIONS], "o", markersize=8, label="measured (binary reversal)")
    ax.plot(bits, bits / 2, "--", color="grey", label="theory p/2")
    for d in PRECISIONS:
        ax.annotate(d, (PRECISIONS[d], depths[d]), textcoords="offset points", xytext=(6, -12), fontsize=8)
    ax.set_xlabel("significand bits p")
    ax.set_ylabel("largest exact push-then-pop-all depth")
    ax.legend()
    figure = save_figure(fig, out / "depth_vs_precision.png")
    print(table)
    print(f"\nfigure: {figure}")
    return depths, departures


if __name__ == "__main__":
    main()
