"""Run directories: what one trained member leaves on disk.

A run directory holds ``config.json``, the TensorBoard event files, orbax
``params/``, and ``results.json``, written last and atomically: a directory
without it is an unfinished run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from rnnjax.eval import acceptance, counting_generalisation, cross_entropy_difference, transduction_accuracy
from rnnjax.eval.generalisation import num_members
from rnnjax.models import SequenceModel
from rnnjax.tasks import Language, TaggingTask
from rnnjax.tasks.cfl import CFLLanguage
from rnnjax.train.config import TrainConfig, build_model


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run, loaded back from its directory."""

    run_dir: Path
    config: TrainConfig
    language: Language
    model: SequenceModel
    params: Any
    results: dict

    @property
    def history(self) -> list[dict]:
        """The logged training metrics (one dict per logged step)."""
        path = self.run_dir / "history.json"
        return json.loads(path.read_text()) if path.exists() else []

    @property
    def arm(self) -> str:
        return self.results.get("arm", "")


def evaluate(cfg: TrainConfig, model: SequenceModel, language: Language, members) -> list[dict]:
    """The task's metrics for each member (params with a leading member axis;
    members share every config field that evaluation reads).

    CFL tasks: the cross-entropy difference on the test set (nats per symbol above the
    lower bound of the true distribution; ``tasks.cfl``).
    Transductions: coarse and fine accuracy of greedy decoding (train and test lengths).
    Counting languages: length generalisation for n up to ``eval_n_max``:
    the largest n below which every n is correct, the fraction of n correct
    inside the training range and in ``(n_max, 2 n_max]``, and ``correct_by_n``,
    a string of 0/1, one character per n.
    """
    if cfg.objective == "tagging":
        return tagging_generalisation(cfg, model, language, members)
    if cfg.objective == "transduction":
        return transduction_generalisation(cfg, model, language, members)
    if isinstance(language, CFLLanguage):
        difference = cross_entropy_difference(
            model, members, language.test_tokens, language.test_lengths, language.test_lower_bounds, language.eos
        )
        return [{"cross_entropy_difference": float(d), "lower_bound": float(language.test_lower_bounds.mean())}
                for d in difference]
    if language.probes is None:
        return sampled_generalisation(cfg, model, language, members)
    results = counting_generalisation(model, members, language, cfg.eval_n_max, cfg.threshold)
    beyond = slice(cfg.n_max, 2 * cfg.n_max)
    return [
        {
            "largest_correct_n": r.largest_correct_n,
            "correct_within_training": float(r.correct[: cfg.n_max].mean()),
            "correct_beyond_training": float(r.correct[beyond].mean()) if r.correct[beyond].size else None,
            "members_accepted": int(r.member_accepted.sum()),
            "near_misses_rejected": int(r.near_misses_rejected.sum()),
            "correct_by_n": "".join("1" if c else "0" for c in r.correct),
        }
        for r in results
    ]


def transduction_generalisation(cfg: TrainConfig, model, task, members, count: int = 500) -> list[dict]:
    """Coarse and fine greedy accuracy (``eval.transduction_accuracy``) on ``count``
    sources with n in the training range (``*_train``) and in ``(n_max, eval_n_max]``
    (``*_test``; Grefenstette et al. train on 8-64 and test on 65-128)."""
    metrics = [{} for _ in range(num_members(members))]
    ranges = {"train": (cfg.n_min, cfg.n_max), "test": (cfg.n_max + 1, cfg.eval_n_max)}
    for name, (lo, hi) in ranges.items():
        if lo > hi:
            continue
        coarse, fine = transduction_accuracy(model, members, task, lo, hi, count, jax.random.key(hi))
        for m, row in enumerate(metrics):
            row[f"coarse_{name}"], row[f"fine_{name}"] = float(coarse[m]), float(fine[m])
    return metrics


def tagging_generalisation(cfg: TrainConfig, model: SequenceModel, task: TaggingTask, members, count: int = 128):
    """Per-token accuracy on ``count`` sampled strings of each length in
    ``eval_lengths`` (``accuracy_T<L>``), beside the majority-class baseline
    on the same tokens (``majority_T<L>``)."""
    predict = jax.jit(jax.vmap(jax.vmap(lambda p, x: jnp.argmax(model.apply(p, x), axis=-1), (None, 0)), (0, None)))
    metrics = [{} for _ in range(num_members(members))]
    for length in cfg.eval_lengths:
        tokens = jax.vmap(task.sample, (0, None))(jax.random.split(jax.random.key(length), count), length)
        labels = jax.vmap(task.labels)(tokens)
        accuracy = np.asarray(jnp.mean(predict(members, tokens) == labels[None], axis=(1, 2)))
        positive = float(jnp.mean(labels))
        for m, row in enumerate(metrics):
            row[f"accuracy_T{length}"] = float(accuracy[m])
            row[f"majority_T{length}"] = max(positive, 1 - positive)
    return metrics


def sampled_generalisation(cfg: TrainConfig, model: SequenceModel, language: Language, members, count: int = 256):
    """For languages without counting probes, over ``count`` sampled members with
    n in the training range and in ``(n_max, 2 n_max]``: the fraction accepted,
    the fraction correct (accepted, and a copy with one symbol changed into a
    non-member rejected), and the largest absolute value of any state unit."""
    longest = language.max_length(2 * cfg.n_max)
    sample = jax.jit(jax.vmap(lambda k, lo, hi: language.sample(k, lo, hi, longest), (0, None, None)))
    keys = jax.random.split(jax.random.key(0), count)
    metrics = [{} for _ in range(num_members(members))]
    for name, (lo, hi) in (("within_training", (cfg.n_min, cfg.n_max)), ("beyond_training", (cfg.n_max + 1, 2 * cfg.n_max))):
        tokens, lengths = sample(keys, lo, hi)
        strings = [language.decode(t, n) for t, n in zip(tokens, lengths)]
        corrupted = [_one_symbol_off(language, s, np.random.default_rng(i)) for i, s in enumerate(strings)]
        accepted = acceptance(model, members, language, strings + corrupted, cfg.threshold)
        accepted, rejected = accepted[:, :count], ~accepted[:, count:]
        inputs = jnp.concatenate([jnp.full((count, 1), language.eos, jnp.int32), tokens], axis=1)
        states = jax.vmap(lambda p: jax.vmap(lambda x: model.states(p, x))(inputs))(members)
        per_leaf = [jnp.max(jnp.abs(s.reshape(s.shape[0], -1)), axis=1) for s in jax.tree_util.tree_leaves(states)]
        largest = jnp.max(jnp.stack(per_leaf), axis=0)
        for m, row in enumerate(metrics):
            row[f"accepted_{name}"] = float(accepted[m].mean())
            row[f"correct_{name}"] = float((accepted[m] & rejected[m]).mean())
            row[f"max_abs_state_{name}"] = float(largest[m])
    return metrics


def _one_symbol_off(language: Language, s: str, rng: np.random.Generator) -> str:
    """``s`` with one symbol replaced so that it leaves the language."""
    for _ in range(100):
        i = int(rng.integers(len(s)))
        t = s[:i] + str(rng.choice([c for c in language.alphabet if c != s[i]])) + s[i + 1 :]
        if not language.is_member(t):
            return t
    raise ValueError(f"no one-symbol change takes {s!r} out of {language.name}")


def write_config(cfg: TrainConfig, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if jax.process_index() == 0:
        (run_dir / "config.json").write_text(cfg.to_json())


def save_run(run_dir: Path, params, results: dict, history: list[dict] = ()) -> None:
    """Saves params (orbax), ``history.json`` (the logged training metrics), then
    results.json (atomically), which marks the run finished.

    With several processes, every process calls this for every run in the same
    order (orbax synchronises them) with the same host arrays; process 0 writes.
    """
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(run_dir.absolute() / "params", params, force=True)
    if jax.process_index() != 0:
        return
    (run_dir / "history.json").write_text(json.dumps(list(history)))
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, run_dir / "results.json")


def finished_with(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly ``cfg``."""
    try:
        same = TrainConfig.from_json((run_dir / "config.json").read_text()) == cfg
    except (FileNotFoundError, TypeError, ValueError):
        return False
    return same and (run_dir / "results.json").exists()


def load_run(run_dir: str | Path) -> Run:
    run_dir = Path(run_dir).absolute()
    if not (run_dir / "results.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a finished run (no results.json)")
    cfg = TrainConfig.from_json((run_dir / "config.json").read_text())
    language, model = build_model(cfg)
    like = jax.eval_shape(model.init, jax.random.key(0))
    with ocp.StandardCheckpointer() as checkpointer:
        params = checkpointer.restore(run_dir / "params", like)
    results = json.loads((run_dir / "results.json").read_text())
    return Run(run_dir, cfg, language, model, params, results)


def find_runs(root: str | Path) -> list[Path]:
    """Every finished run directory under ``root``, sorted."""
    return sorted(p.parent for p in Path(root).rglob("results.json"))
