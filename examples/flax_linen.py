"""A GRU tagger in flax.linen: a module that keeps an rnnjax cell's params with
``self.param`` and runs ``rnnjax.scan`` (vmapped over the batch, with lengths).

    python examples/flax_linen.py [--steps 300]
"""

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import rnnjax
from rnnjax import cells

VOCAB, EMBED, T, BATCH = 4, 8, 12, 32


class Recurrent(nn.Module):
    """Any rnnjax cell as a linen layer: ``xs: [B, T, D], lengths: int[B] -> ys: [B, T, output_dim]``."""

    cell: rnnjax.Cell  # a value: hashable, so linen can hold it as a module attribute

    @nn.compact
    def __call__(self, xs, lengths):
        params = self.param("cell", lambda key: self.cell.init(key, xs.shape[-1]))
        return jax.vmap(lambda x, n: rnnjax.scan(self.cell, params, x, length=n)[1])(xs, lengths)


class Tagger(nn.Module):
    @nn.compact
    def __call__(self, tokens, lengths):
        xs = nn.Embed(VOCAB, EMBED)(tokens)
        return nn.Dense(VOCAB)(Recurrent(cells.gru(16, reset="after"))(xs, lengths))


def main(steps: int) -> tuple[float, float]:
    model = Tagger()
    tokens, lengths = jnp.zeros((BATCH, T), jnp.int32), jnp.full((BATCH,), T)
    params = model.init(jax.random.key(0), tokens, lengths)
    optimizer = optax.adam(1e-2)

    def loss_fn(params, tokens, lengths):
        logits = model.apply(params, tokens, lengths)[:, 1:]
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, :-1])
        mask = jnp.arange(1, T) < lengths[:, None]
        return jnp.sum(nll * mask) / jnp.sum(mask)

    @jax.jit
    def train_step(params, opt_state, key):
        k_tokens, k_lengths = jax.random.split(key)
        tokens = jax.random.randint(k_tokens, (BATCH, T), 0, VOCAB)
        lengths = jax.random.randint(k_lengths, (BATCH,), 2, T + 1)
        loss, grads = jax.value_and_grad(loss_fn)(params, tokens, lengths)
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state, losses = optimizer.init(params), []
    for key in jax.random.split(jax.random.key(1), steps):
        params, opt_state, loss = train_step(params, opt_state, key)
        losses.append(float(loss))
    return losses[0], losses[-1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    first, last = main(parser.parse_args().steps)
    print(f"loss {first:.3f} -> {last:.3f} (chance: log {VOCAB} = {jnp.log(VOCAB):.3f})")
