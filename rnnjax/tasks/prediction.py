"""Next-symbol prediction with the acceptance criterion of Weiss, Goldberg & Yahav 2018.

A string ``s_1..s_L`` of a Language becomes

    inputs  = [eos, s_1, ..., s_L]      targets = [s_1, ..., s_L, eos]

and the model's output at position t is a distribution over the symbol that
follows ``s_1..s_t``; training is cross-entropy on members. A string is
*accepted* iff every target along it, EOS included, has probability above a
threshold.

Evaluation: languages with probes (counting languages) test every n in
``1..eval_n_max``: the member and its near misses, all of which must be
decided right; others test sampled members and one-symbol corruptions inside
and beyond the training range.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.tasks.base import (
    Array,
    EvalSet,
    Evaluation,
    Example,
    Predictor,
    Task,
    cached,
    check_host_memory,
    masked_mean,
    token_nll,
)
from rnnjax.tasks.language import Language


def prediction_example(tokens: Array, length: Array, eos: int) -> tuple[Array, Array, Array]:
    """``tokens: int[L]`` (eos-padded), ``length: int[]`` -> ``inputs, targets: int[L+1]``
    and ``mask: bool[L+1]`` (true on the ``length + 1`` predicted positions)."""
    start = jnp.full((1,), eos, tokens.dtype)
    inputs = jnp.concatenate([start, tokens])
    positions = jnp.arange(tokens.shape[0] + 1)
    targets = jnp.where(positions < length, jnp.concatenate([tokens, start]), eos)
    return inputs, targets, positions <= length


def accepts(log_probs: Array, targets: Array, mask: Array, threshold: float) -> Array:
    """Weiss et al. 2018 acceptance: every target probability exceeds ``threshold``.

    ``log_probs: [L+1, V]``, ``targets: int[L+1]``, ``mask: bool[L+1]`` -> ``bool[]``.
    """
    target_log_probs = jnp.take_along_axis(log_probs, targets[:, None], axis=-1)[:, 0]
    return jnp.all((target_log_probs > jnp.log(threshold)) | ~mask)


def next_symbol_accuracy(log_probs: Array, sets: Array, mask: Array, threshold: float) -> Array:
    """Fraction of positions where ``{symbols with p > threshold}`` equals the true set.

    ``log_probs: [L+1, V]``, ``sets: bool[L+1, V]``, ``mask: bool[L+1]`` -> ``float[]``.
    """
    correct = jnp.all((log_probs > jnp.log(threshold)) == sets, axis=-1)
    return jnp.sum(correct * mask) / jnp.maximum(jnp.sum(mask), 1)


def encode_examples(language: Language, strings: list[str], width: int | None = None) -> dict[str, np.ndarray]:
    """Host ``inputs, targets: int[N, W]``, ``mask: bool[N, W]`` of ``prediction_example``
    for each string; W = ``width`` or the longest string + 1."""
    lengths = np.array([len(s) for s in strings])
    width = int(lengths.max()) + 1 if width is None else width
    tokens = np.stack([language.encode(s, width - 1) for s in strings])
    eos = np.full((len(strings), 1), language.eos, np.int32)
    positions = np.arange(width)[None]
    targets = np.where(positions < lengths[:, None], np.concatenate([tokens, eos], 1), language.eos)
    return {"inputs": np.concatenate([eos, tokens], 1), "targets": targets.astype(np.int32),
            "mask": positions <= lengths[:, None]}


def prediction(language: Language, n_min: int, n_max: int, eval_n_max: int, *, threshold: float = 0.005,
               loss_per: Literal["token", "word"] = "token") -> Task:
    """Next-symbol prediction of ``language`` with n in ``[n_min, n_max]`` in training.

    ``threshold``: a symbol is predicted when its probability exceeds it (acceptance
    and the logged next-symbol-set accuracy). ``loss_per``: the cross-entropy is a mean
    over the batch's predicted positions (token), or each word's summed cross-entropy
    averaged over the batch's words (word, as Weiss et al. train). Languages with probes
    have a ``fit`` check: the fraction of training n whose member is accepted and whose
    near misses are rejected."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if loss_per not in ("token", "word"):
        raise ValueError(f"loss_per must be 'token' or 'word', got {loss_per!r}")
    eos = language.eos

    def sample(key, n_lo, n_hi, max_len) -> Example:
        tokens, length = language.sample(key, n_lo, n_hi, max_len)
        inputs, targets, mask = prediction_example(tokens, length, eos)
        return {"inputs": inputs, "targets": targets, "mask": mask, "sets": language.next_symbol_sets(tokens)}

    def loss(logits, batch):
        log_probs = jax.nn.log_softmax(logits)
        accuracy = jax.vmap(next_symbol_accuracy, (0, 0, 0, None))(log_probs, batch["sets"], batch["mask"], threshold)
        nll = token_nll(logits, batch["targets"])
        loss = masked_mean(nll, batch["mask"]) if loss_per == "token" else jnp.mean(jnp.sum(nll * batch["mask"], -1))
        return loss, {"accuracy": jnp.mean(accuracy)}

    def accepted(model: Predictor, example: Example) -> Array:
        log_probs = jax.nn.log_softmax(model.logits(example["inputs"]))
        return accepts(log_probs, example["targets"], example["mask"], threshold)

    evaluation = (probe_evaluation if language.probes else sampled_evaluation)(language, n_min, n_max, eval_n_max,
                                                                                accepted)
    fit = probe_fit(language, n_min, n_max, accepted) if language.probes else None
    return Task(language.name, language.vocab_size, language.vocab_size, (n_min, n_max), language.max_length, sample,
                loss, evaluation, ("accuracy",), definition=language, fit=fit)


def probe_fit(language: Language, n_min: int, n_max: int, accepted):
    """``model -> float[]``: the fraction of n in ``[n_min, n_max]`` whose member is
    accepted and whose near misses are all rejected (the probes of the training range)."""
    strings, _ = probe_strings(language, range(n_min, n_max + 1))
    examples, count = encode_examples(language, strings), n_max - n_min + 1

    def fit(model: Predictor) -> Array:
        ok = jax.vmap(lambda ex: accepted(model, ex))({k: jnp.asarray(v) for k, v in examples.items()})
        return jnp.mean(ok[:count] & ~ok[count:].reshape(count, -1).any(axis=1))

    return fit


def probe_strings(language: Language, ns: range) -> tuple[list[str], int]:
    """The member of every n in ``ns``, then the near misses of each n in turn, and the
    number of near misses per n."""
    groups = [language.probes(n) for n in ns]
    return [m for m, _ in groups] + [s for _, near in groups for s in near], len(groups[0][1])


def probe_evaluation(language: Language, n_min: int, n_max: int, eval_n_max: int, accepted) -> Evaluation:
    """Every n in ``1..eval_n_max``: the member and its near misses (``language.probes``).

    Metrics: the largest n below which every n is correct (member accepted, near misses
    rejected), the fraction of n correct inside the training range and in
    ``(n_max, 2 n_max]``, counts, and ``correct_by_n``, a string of 0/1 per n."""
    per_n = len(language.probes(1)[1])
    check_host_memory(f"evaluating every n in 1..{eval_n_max} (--eval-n-max)",
                      eval_n_max * (1 + per_n) * (language.max_length(eval_n_max) + 2) * 16)
    member, near = language.probes(eval_n_max)

    @cached
    def sets():
        strings, _ = probe_strings(language, range(1, eval_n_max + 1))
        lengths = np.array([len(s) + 1 for s in strings], np.int32)
        return (EvalSet("probes", encode_examples(language, strings), lengths, pad_multiple=256),)

    def summarise(scores):
        accepted_ = np.asarray(scores["probes"]["accepted"], bool)
        member, rejected = accepted_[:eval_n_max], (~accepted_[eval_n_max:]).reshape(eval_n_max, per_n).all(axis=1)
        correct = member & rejected
        wrong = np.flatnonzero(~correct)
        beyond = correct[n_max : 2 * n_max]
        return {
            "largest_correct_n": int(wrong[0]) if wrong.size else int(correct.size),
            "correct_within_training": float(correct[:n_max].mean()),
            "correct_beyond_training": float(beyond.mean()) if beyond.size else None,
            "members_accepted": int(member.sum()),
            "near_misses_rejected": int(rejected.sum()),
            "correct_by_n": "".join("1" if c else "0" for c in correct),
        }

    metrics = ("largest_correct_n", "correct_within_training", "correct_beyond_training", "members_accepted",
               "near_misses_rejected", "correct_by_n")
    return Evaluation(sets, lambda model, ex: {"accepted": accepted(model, ex)}, summarise, metrics,
                      max(len(s) for s in (member, *near)) + 1, f"every n in 1..{eval_n_max}: member and near misses")


def sampled_evaluation(language: Language, n_min: int, n_max: int, eval_n_max: int, accepted,
                       count: int = 256) -> Evaluation:
    """``count`` sampled members with n in the training range (``*_within_training``) and
    in ``(n_max, 2 n_max]`` (``*_beyond_training``): the fraction accepted, the fraction
    correct (accepted, and a copy with one symbol changed into a non-member rejected),
    and the largest absolute value of any state unit along the members."""
    longest = language.max_length(2 * n_max)
    ranges = {"within_training": (n_min, n_max), "beyond_training": (n_max + 1, 2 * n_max)}

    @cached
    def sets():
        sample = jax.jit(jax.vmap(lambda k, lo, hi: language.sample(k, lo, hi, longest), (0, None, None)))
        keys = jax.random.split(jax.random.key(0), count)
        out = []
        for name, (lo, hi) in ranges.items():
            tokens, lengths = sample(keys, lo, hi)
            strings = [language.decode(t, n) for t, n in zip(tokens, lengths)]
            strings += [one_symbol_off(language, s, np.random.default_rng(i)) for i, s in enumerate(strings)]
            examples = encode_examples(language, strings, longest + 1)
            out.append(EvalSet(name, examples, np.array([len(s) + 1 for s in strings], np.int32)))
        return tuple(out)

    def score(model: Predictor, example: Example):
        leaves = jax.tree_util.tree_leaves(model.states(example["inputs"]))
        return {"accepted": accepted(model, example), "max_abs_state": jnp.max(jnp.stack([jnp.max(jnp.abs(s))
                                                                                       for s in leaves]))}

    def summarise(scores):
        out = {}
        for name in ranges:
            accepted_ = np.asarray(scores[name]["accepted"], bool)
            members, rejected = accepted_[:count], ~accepted_[count:]
            out[f"accepted_{name}"] = float(members.mean())
            out[f"correct_{name}"] = float((members & rejected).mean())
            out[f"max_abs_state_{name}"] = float(np.max(scores[name]["max_abs_state"][:count]))
        return out

    metrics = tuple(f"{k}_{r}" for r in ranges for k in ("accepted", "correct", "max_abs_state"))
    return Evaluation(sets, score, summarise, metrics, longest + 1,
                      f"{count} sampled members and corruptions for n in {n_min}..{n_max} and {n_max + 1}..{2 * n_max}")


def one_symbol_off(language: Language, s: str, rng: np.random.Generator) -> str:
    """``s`` with one symbol replaced so that it leaves the language."""
    for _ in range(100):
        i = int(rng.integers(len(s)))
        t = s[:i] + str(rng.choice([c for c in language.alphabet if c != s[i]])) + s[i + 1 :]
        if not language.is_member(t):
            return t
    raise ValueError(f"no one-symbol change takes {s!r} out of {language.name}")
