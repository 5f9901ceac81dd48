"""Length generalisation: recognisers in the token-prediction formulation, and transducers."""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from rnnjax.models import SequenceModel
from rnnjax.tasks import Language, Transduction, accepts, prediction_example, target_mask


@partial(jax.jit, static_argnames=("model", "eos", "threshold"))
def _accepts_batch(model, members, tokens, lengths, eos, threshold):
    def one(params, t, n):
        inputs, targets, mask = prediction_example(t, n, eos)
        return accepts(model.log_probs(params, inputs), targets, mask, threshold)

    per_member = jax.vmap(one, (None, 0, 0))
    return jax.vmap(per_member, (0, None, None))(members, tokens, lengths)


def num_members(members) -> int:
    """The size of the leading member axis of a stacked params pytree."""
    return jax.tree_util.tree_leaves(members)[0].shape[0]


def acceptance(
    model: SequenceModel,
    members,
    language: Language,
    strings: list[str],
    threshold: float,
    *,
    chunk: int = 256,
    pad_multiple: int = 256,
) -> np.ndarray:
    """``bool[P, len(strings)]``: whether each of P members accepts each string (``tasks.accepts``).

    ``members``: params with a leading member axis ``[P, ...]``. Strings go
    through in chunks of ``chunk``; each chunk is padded to its longest string
    rounded up to ``pad_multiple``, so long evaluations compile a few programs.
    """
    out = np.zeros((num_members(members), len(strings)), bool)
    order = np.argsort([len(s) for s in strings], kind="stable")
    for start in range(0, len(strings), chunk):
        idx = order[start : start + chunk]
        longest = max(len(strings[i]) for i in idx)
        max_len = pad_multiple * max(1, math.ceil(longest / pad_multiple))
        tokens = np.full((chunk, max_len), language.eos, np.int32)
        lengths = np.zeros((chunk,), np.int32)
        for row, i in enumerate(idx):
            tokens[row] = language.encode(strings[i], max_len)
            lengths[row] = len(strings[i])
        accepted = _accepts_batch(model, members, tokens, lengths, language.eos, threshold)
        out[:, idx] = np.asarray(accepted)[:, : len(idx)]
    return out


@dataclasses.dataclass(frozen=True)
class CountingResult:
    """Per n = 1..n_max: is the member accepted, are all its near misses rejected."""

    member_accepted: np.ndarray
    near_misses_rejected: np.ndarray

    @property
    def correct(self) -> np.ndarray:
        return self.member_accepted & self.near_misses_rejected

    @property
    def largest_correct_n(self) -> int:
        """Largest N such that every n <= N is correct (0 if n = 1 already fails)."""
        wrong = np.flatnonzero(~self.correct)
        return int(wrong[0]) if wrong.size else int(self.correct.size)


def counting_generalisation(
    model: SequenceModel, members, language: Language, n_max: int, threshold: float
) -> list[CountingResult]:
    """Tests ``language.probes(n)`` for every n in ``1..n_max``, for each member of
    ``members`` (params with a leading member axis)."""
    positives, near_misses = zip(*(language.probes(n) for n in range(1, n_max + 1)))
    per_n = len(near_misses[0])
    strings = list(positives) + [s for group in near_misses for s in group]
    accepted = acceptance(model, members, language, strings, threshold)
    rejected = ~accepted[:, n_max:].reshape(-1, n_max, per_n)
    return [CountingResult(a[:n_max], r.all(axis=1)) for a, r in zip(accepted, rejected)]


def transduction_accuracy(model, members, task: Transduction, n_lo: int, n_hi: int, count: int, key: jax.Array):
    """Greedy-decoding accuracy of Grefenstette et al. 2015 on ``count`` sampled
    sources with n in ``[n_lo, n_hi]``, for each member: ``(coarse, fine)``, each
    ``float[P]``. Coarse: fraction of outputs (target and EOS) entirely correct.
    Fine: mean fraction of the output correct before the first error."""
    max_len = task.max_length(n_hi)
    tokens, n = jax.vmap(task.sample, (0, None, None, None))(jax.random.split(key, count), n_lo, n_hi, max_len)
    coarse, fine = _greedy_scores(model, members, tokens, n)
    return np.asarray(coarse), np.asarray(fine)


def transduction_scores(predictions: jax.Array, targets: jax.Array, n: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``predictions, targets: int[B, L]`` (aligned with ``tokens[:, 1:]``), source
    lengths ``n: int[B]`` -> ``(coarse: bool[B], fine: float[B])``: whether the
    output (positions n..2n) is entirely correct, and the fraction of it correct
    before the first error."""
    mask = jax.vmap(target_mask, (0, None))(n, targets.shape[1])
    ok = (predictions == targets) | ~mask
    before_first_error = jnp.sum(jnp.cumprod(ok, axis=1) * mask, axis=1)
    return jnp.all(ok, axis=1), before_first_error / (n + 1)


@partial(jax.jit, static_argnames=("model",))
def _greedy_scores(model, members, tokens, n):
    inputs = tokens[:, :-1]
    forced = jnp.arange(inputs.shape[1])[None] <= n[:, None]

    def scores(params):
        predictions = jax.vmap(model.greedy, (None, 0, 0))(params, inputs, forced)
        coarse, fine = transduction_scores(predictions, tokens[:, 1:], n)
        return jnp.mean(coarse), jnp.mean(fine)

    return jax.lax.map(scores, members)


def cross_entropy_difference(model, members, tokens: np.ndarray, lengths: np.ndarray, lower_bounds: np.ndarray,
                             eos: int, chunk: int = 128) -> np.ndarray:
    """Mean over strings of the model's per-symbol cross-entropy (EOS included, nats)
    minus the string's lower bound, per member: ``float[P]``.

    ``tokens: int[N, L]`` EOS-padded, ``lengths: int[N]``, ``lower_bounds: float[N]``."""
    totals = np.zeros(num_members(members))
    for start in range(0, len(tokens), chunk):
        t, n = jnp.asarray(tokens[start : start + chunk]), jnp.asarray(lengths[start : start + chunk])
        per_string = np.asarray(_cross_entropies(model, members, t, n, eos))
        totals += (per_string - lower_bounds[start : start + chunk][None]).sum(axis=1)
    return totals / len(tokens)


@partial(jax.jit, static_argnames=("model", "eos"))
def _cross_entropies(model, members, tokens, lengths, eos):
    def one(params, t, n):
        inputs, targets, mask = prediction_example(t, n, eos)
        nll = -jnp.take_along_axis(model.log_probs(params, inputs), targets[:, None], axis=-1)[:, 0]
        return jnp.sum(nll * mask) / (n + 1)

    return jax.vmap(lambda p: jax.vmap(lambda t, n: one(p, t, n))(tokens, lengths))(members)
