"""Score-function (REINFORCE, Williams 1992) gradients for models whose memories sample.

A model with hard addressing draws discrete choices z ~ p_theta(z | x) and pays a
cost c_theta(x, z) (its task loss given the choices). The gradient of the
expected cost is

    grad E_z[c] = E_z[ grad c + (c - b) grad log p_theta(z) ]

for any b that does not depend on z (E_z[grad log p] = 0, so b changes the
variance, not the mean). ``reinforce_loss`` is a surrogate whose gradient is the
bracket; b is a learned scalar (``params["baseline"]`` of a sampling
``SequenceModel``) regressed on the costs.

Duck-typed on the task (``task.loss``) and model (``model.train_apply``): nothing
here imports training code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["BASELINE", "example_costs", "reinforce_loss", "sampled_batch_loss"]

BASELINE = "baseline"
"""The key of the learned baseline in a sampling model's params."""


def reinforce_loss(costs: jax.Array, log_probs: jax.Array, baseline: jax.Array) -> jax.Array:
    """Surrogate of the expected cost: ``costs, log_probs: [B], baseline: [] -> []``.

    Value: ``mean(c) + mean((b - c)^2)`` (the cost, plus the baseline's regression
    loss). Gradient: ``mean(grad c + (sg(c) - sg(b)) grad log p)`` in the model's
    parameters (sg: stop_gradient; pathwise plus score-function terms) and
    ``2 mean(b - c)`` in the baseline, which therefore tracks the mean cost without
    biasing the estimate (its own gradient never reaches the model).
    """
    costs, log_probs = jnp.asarray(costs), jnp.asarray(log_probs)
    if costs.ndim != 1 or costs.shape != log_probs.shape or jnp.ndim(baseline) != 0:
        raise ValueError(f"reinforce_loss needs costs and log_probs of shape [B] and a scalar baseline, got "
                         f"{costs.shape}, {log_probs.shape}, {jnp.shape(baseline)}")
    advantage = jax.lax.stop_gradient(costs - baseline)
    score = advantage * log_probs
    surrogate = jnp.mean(costs + score - jax.lax.stop_gradient(score))
    regression = jnp.mean((baseline - jax.lax.stop_gradient(costs)) ** 2)
    return surrogate + regression


def example_costs(task, logits: jax.Array, batch: dict) -> jax.Array:
    """``[B]``: ``task.loss`` of each example alone (a batch of one), ``logits: [B, T, O]``."""

    def one(logits, example):
        return task.loss(logits[None], jax.tree_util.tree_map(lambda x: x[None], example))[0]

    return jax.vmap(one)(logits, batch)


def sampled_batch_loss(task, model, params, batch: dict, keys: jax.Array) -> tuple[jax.Array, dict]:
    """``(surrogate, metrics)`` of a model whose ``train_apply(params, tokens, key)`` returns
    ``(logits, log_prob)`` on ``batch`` (examples stacked ``[B, ...]``, ``batch["inputs"]:
    int[B, T]``), one PRNG key per example ``keys: [B]``.

    The surrogate is ``reinforce_loss`` of the per-example task losses (``example_costs``)
    with the baseline ``params["baseline"]``; its value is their mean plus the baseline's
    regression loss. ``metrics``: the task's own metrics on the whole batch (as the
    trainer logs for other models), the baseline and the mean log-probability of the draws.
    """
    logits, log_probs = jax.vmap(model.train_apply, (None, 0, 0))(params, batch["inputs"], keys)
    costs = example_costs(task, logits, batch)
    surrogate = reinforce_loss(costs, log_probs, params[BASELINE])
    _, metrics = task.loss(logits, batch)
    return surrogate, {**metrics, "baseline": params[BASELINE], "log_prob": jnp.mean(log_probs)}
