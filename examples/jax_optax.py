"""A stack-LSTM in plain JAX + optax: predict the previous token of padded sequences of
different lengths (one cell, ``jax.vmap`` for the batch, ``length=`` for the padding).

    python examples/jax_optax.py [--steps 300]
"""

import argparse

import jax
import jax.numpy as jnp
import optax

import rnnjax
from rnnjax import cells, memory

VOCAB, EMBED, T, BATCH = 4, 8, 12, 32


def batch(key):
    """tokens ``int[B, T]`` and lengths ``int[B]`` (positions past a length are padding)."""
    k_tokens, k_lengths = jax.random.split(key)
    tokens = jax.random.randint(k_tokens, (BATCH, T), 0, VOCAB)
    return tokens, jax.random.randint(k_lengths, (BATCH,), 2, T + 1)


def main(steps: int) -> tuple[float, float]:
    cell = memory.augment(cells.lstm(16), memory.stack(4), capacity=T)
    k_embed, k_cell, k_out = jax.random.split(jax.random.key(0), 3)
    params = {
        "embed": jax.random.normal(k_embed, (VOCAB, EMBED)),
        "cell": cell.init(k_cell, EMBED),
        "readout": jax.random.normal(k_out, (cell.output_dim, VOCAB)) / cell.output_dim**0.5,
    }

    def loss_fn(params, tokens, lengths):
        def logits(tokens, length):  # one sequence: int[T] -> [T, VOCAB]
            _, ys = rnnjax.scan(cell, params["cell"], params["embed"][tokens], length=length)
            return ys @ params["readout"]

        logits = jax.vmap(logits)(tokens, lengths)[:, 1:]
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, :-1])
        mask = jnp.arange(1, T) < lengths[:, None]
        return jnp.sum(nll * mask) / jnp.sum(mask)

    optimizer = optax.adam(1e-2)

    @jax.jit
    def train_step(params, opt_state, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch(key))
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
