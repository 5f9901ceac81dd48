"""The Chomsky-hierarchy benchmark's costs: train steps at the paper's shapes, the evaluation over lengths, whole runs.

Prints JSON with three parts:

- ``train_step``: milliseconds per train step (forward + backward + Adam) of each of
  the paper's models as the public code builds them (``rnnjax.models.nnch``) at its
  shapes: batch 128, reverse_string with 40 input and 40 output positions, hidden 256
  (stack and tape cells of 8; a stack of 30 and a tape of 40 cells, the public code's
  defaults and ``training/example.py``'s tape), the Transformer encoder (sin/cos) of
  width 64 with 5 blocks; beside the public Haiku code's time measured on this 2-core
  CPU (``../shared/MEASUREMENTS.md``); and the forward loss alone, with the ratio
  step / forward (the backward pass's cost shows there); and rnnjax's own stack and tape RNNs and its
  stratified stack, queue, deque and superposition stack on the same Elman controller, for the ratio.
- ``projection`` (``--project``): device-hours of the paper's grid (15 tasks x 5
  models x 3 learning rates x 10 seeds x 1M steps) from those per-step times, for
  rnnjax and for the public code.
- ``evaluation``: the evaluation over every length 1..N (S samples each) of one
  LSTM: seconds and backend compilations, against the same model evaluated length by
  length with one compiled program per length (the public code's way).
- ``whole_run``: one (task, model) trained for K steps and evaluated, as a population
  of P members (learning rates x seeds) in one program, against P solo runs each
  evaluated length by length (one model per process, as the public code runs them);
  measured: one solo run, times P.

    python benchmarks/chomsky.py                 # paper shapes; evaluation 1..500 x 512; 10,000-step runs
    python benchmarks/chomsky.py --quick         # CPU-sized: evaluation 1..100 x 64, 300-step runs of hidden 64 (x 30)
    python benchmarks/chomsky.py --project --populations 1 256   # and a vmapped population of the LSTM
    python benchmarks/chomsky.py --project       # the train steps, then the device-hours of the paper's grid
    python benchmarks/chomsky.py --out DIR       # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
import tables
from timing import best_time

from rnnjax.compilation import compilations
from rnnjax.eval import evaluate
from rnnjax.train import build, train, train_population
from rnnjax.train.experiment import load_experiment
from rnnjax.train.loop import batch_loss, init_state, make_optimizer, make_train_step, stack_members

HAIKU_MS = {"lstm": 207.0, "stack_rnn": 144.0, "tape_rnn": 229.0, "transformer": 710.0}
"""The public code's train step on this CPU at the same shapes (MEASUREMENTS.md)"""
MODELS = {"rnn": "rnn", "lstm": "lstm", "stack_rnn": "stack_rnn", "tape_rnn": "tape_rnn",
          "transformer": "transformer_sin_cos", "rnnjax_stack_rnn": "rnnjax_stack_rnn",
          "rnnjax_tape_rnn": "rnnjax_tape_rnn", "rnnjax_stratified_stack": "stack", "rnnjax_queue": "queue",
          "rnnjax_deque": "deque", "rnnjax_superposition": "superposition"}
"""The report's name of each model -> its arm's model in the chomsky experiment: the paper's five as the
public code builds them, and rnnjax's own memories on the same Elman controller (their backward cost: the
step / forward column; each memory as the experiment's arm sizes it, by the padded width)."""
MEMORY_SIZES = {"stack_rnn": 30, "tape_rnn": 40}
"""The public stack's default depth and the tape of its ``training/example.py``."""
EXPERIMENT = load_experiment("chomsky")


def train_step_ms(model: str, batch: int, length: int) -> dict:
    """A train step (forward + backward + Adam) and the forward loss alone, ms, and their ratio."""
    cfg = EXPERIMENT.arms[f"reverse_string-{MODELS[model]}"].replace(batch_size=batch)
    if model in MEMORY_SIZES:
        cfg = cfg.replace(nnch_memory_size=MEMORY_SIZES[model])
    parts = build(cfg)
    max_len = parts.task.max_length(length)
    loss = batch_loss(parts.task, parts.model, batch, max_len)
    step = jax.jit(make_train_step(loss, make_optimizer(cfg)))
    state = init_state(parts.model, cfg)
    ms = 1000 * best_time(step, state, jax.random.key(0), length, length, min_reps=3)
    forward_ms = 1000 * best_time(jax.jit(loss), state.params, jax.random.key(0), length, length, min_reps=3)
    return {"ms": ms, "forward_ms": forward_ms, "step_over_forward": ms / forward_ms}


def population_step(model: str, sizes: tuple[int, ...], batch: int, length: int) -> list[dict]:
    """Member-steps/s of a vmapped population of ``model``'s train step at the paper's shapes, per size."""
    cfg = EXPERIMENT.arms[f"reverse_string-{MODELS[model]}"].replace(batch_size=batch)
    parts = build(cfg)
    step = jax.vmap(make_train_step(batch_loss(parts.task, parts.model, batch, parts.task.max_length(length)),
                                    make_optimizer(cfg)), (0, 0, None, None))
    one = init_state(parts.model, cfg)
    rows = []
    for size in sizes:
        states = jax.tree_util.tree_map(lambda x: jax.numpy.broadcast_to(x, (size, *x.shape)), one)
        seconds = best_time(jax.jit(step), states, jax.random.split(jax.random.key(0), size), length, length,
                            min_reps=3)
        rows.append({"model": model, "members": size, "ms": 1000 * seconds, "member_steps_per_s": size / seconds})
        print(json.dumps(rows[-1]), flush=True)
    return rows


PAPER = ("rnn", "lstm", "stack_rnn", "tape_rnn", "transformer")
GRID = {"tasks": 15, "models": 5, "learning_rates": 3, "seeds": 10, "steps": 1_000_000}
"""The paper's full grid (section 4): every task x model x learning rate x seed, 1M steps each."""


def projection(train_step: dict, population: list[dict] = ()) -> dict:
    """Device-hours of the paper's grid from the measured per-step times: the train steps only (evaluation
    and compilation left out), every model's runs at its own ms per step. On CPU rnnjax trains a program's
    members one by one (``MEMBER_MODES``), so its member-step costs what a solo step costs; the public code
    runs one model per process at its recorded ms. With ``population`` rows (``population_step``), the
    LSTM's runs are also projected at the best measured member-steps/s of a vmapped population."""
    runs_per_model = GRID["tasks"] * GRID["learning_rates"] * GRID["seeds"]
    hours = {}
    for who, key in (("rnnjax", "ms"), ("public_code", "haiku_ms")):
        per_model = {m: runs_per_model * GRID["steps"] * f[key] / 1000 / 3600
                     for m, f in train_step.items() if f.get(key) and m in PAPER}
        hours[who] = {"per_model": per_model, "total": sum(per_model.values()),
                      "models": sorted(per_model)}
    common = hours["public_code"]["models"]
    hours["same_models"] = {who: sum(hours[who]["per_model"][m] for m in common) for who in ("rnnjax", "public_code")}
    if population:
        best = max(population, key=lambda r: r["member_steps_per_s"])
        hours["lstm_population"] = {"members": best["members"],
                                    "hours": runs_per_model * GRID["steps"] / best["member_steps_per_s"] / 3600}
    return {"grid": GRID, "backend": jax.default_backend(), "device_hours": hours,
            "public_code_source": "recorded figures on this CPU (MEASUREMENTS.md): the RNN was not recorded"}


def per_length_evaluation(parts, members, n_max: int, samples: int) -> list[float]:
    """The public code's evaluation: for each length, a fresh program on ``samples`` examples."""
    task, model = parts.task, parts.model
    accuracies = []
    for n in range(1, n_max + 1):
        width = task.max_length(n)
        keys = jax.random.split(jax.random.key(n), samples)
        batch = jax.jit(jax.vmap(lambda k: task.sample(k, n, n, width)))(keys)

        @jax.jit
        def score(members, batch):
            def one(params, example):
                return task.evaluation.score(model.bind(params), example)["accuracy"]

            return jax.vmap(lambda p: jax.vmap(lambda e: one(p, e))(batch))(members)

        accuracies.append(float(np.mean(score(members, batch))))
    return accuracies


def evaluation(hidden: int, n_max: int, samples: int) -> dict:
    cfg = EXPERIMENT.arms["reverse_string-lstm"].replace(hidden=hidden, eval_n_max=n_max, eval_samples=samples)
    parts = build(cfg)
    members = stack_members([parts.eval_model.init(jax.random.key(0))])
    parts.task.evaluation.sets()  # drawn before the clock starts, as in the baseline
    start = time.perf_counter()
    _, ours = compilations(lambda: evaluate(parts.task, parts.eval_model, members))
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    _, theirs = compilations(lambda: per_length_evaluation(parts, members, n_max, samples))
    theirs_s = time.perf_counter() - start
    return {"lengths": n_max, "samples_per_length": samples, "hidden": hidden, "seconds": ours_s,
            "compilations": ours, "per_length_seconds": theirs_s, "per_length_compilations": theirs,
            "speedup": theirs_s / ours_s}


def whole_run(model: str, hidden: int, steps: int, population: int, n_max: int, samples: int, batch: int) -> dict:
    base = EXPERIMENT.arms[f"reverse_string-{MODELS[model]}"].replace(
        hidden=hidden, steps=steps, eval_n_max=n_max, eval_samples=samples, batch_size=batch, log_every=max(1, steps))
    rates = (1e-4, 3e-4, 5e-4)
    members = [base.replace(seed=i // len(rates), learning_rate=rates[i % len(rates)]) for i in range(population)]
    start = time.perf_counter()
    parts = build(base)
    trained = train_population(members, parts=parts, progress=False)
    evaluate(parts.task, parts.eval_model, stack_members([t.params for t in trained]))
    population_s = time.perf_counter() - start

    start = time.perf_counter()
    solo = train(members[0], progress=False)
    per_length_evaluation(build(members[0]), stack_members([solo.params]), n_max, samples)
    solo_s = time.perf_counter() - start
    return {"model": model, "hidden": hidden, "steps": steps, "batch": batch, "population": population,
            "population_seconds": population_s, "solo_seconds": solo_s, "solo_runs_seconds": population * solo_s,
            "speedup": population * solo_s / population_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CPU-sized evaluation and whole runs")
    parser.add_argument("--project", action="store_true",
                        help="only the train steps, and the paper-scale grid's device-hours projected from them")
    parser.add_argument("--populations", nargs="*", type=int, default=(),
                        help="also time vmapped populations of the LSTM's train step of these sizes (e.g. 1 256)")
    tables.add_out_option(parser)
    args = parser.parse_args(argv)
    report = {"backend": jax.default_backend(), "device": str(jax.devices()[0])}
    report["train_step"] = {m: {**train_step_ms(m, 128, 40), "haiku_ms": HAIKU_MS.get(m)} for m in MODELS}
    for figures in report["train_step"].values():
        figures["speedup_vs_haiku"] = figures["haiku_ms"] / figures["ms"] if figures["haiku_ms"] else None
    if args.populations:
        report["population"] = population_step("lstm", tuple(args.populations), 128, 40)
    if args.project:
        report["projection"] = projection(report["train_step"], report.get("population", ()))
        tables.publish(report, args.out)
        return
    if args.quick:
        report["evaluation"] = evaluation(hidden=64, n_max=100, samples=64)
        report["whole_run"] = whole_run("lstm", hidden=64, steps=300, population=30, n_max=100, samples=64, batch=32)
    else:
        report["evaluation"] = evaluation(hidden=256, n_max=500, samples=512)
        report["whole_run"] = whole_run("lstm", hidden=256, steps=10_000, population=30, n_max=500, samples=512,
                                        batch=128)
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
