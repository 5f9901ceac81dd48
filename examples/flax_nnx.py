"""An LSTM tagger in flax.nnx: ``rnnjax.nnx.RNN`` over padded sequences with ``lengths``,
trained with ``nnx.Optimizer`` under ``nnx.jit`` (predict the previous token).

    python examples/flax_nnx.py [--steps 300]
"""

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rnnjax import cells
from rnnjax import nnx as rnnx

VOCAB, EMBED, T, BATCH = 4, 8, 12, 32


class Tagger(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, EMBED, rngs=rngs)
        self.rnn = rnnx.RNN(cells.lstm(16), EMBED, rngs=rngs)
        self.readout = nnx.Linear(self.rnn.cell.output_dim, VOCAB, rngs=rngs)

    def __call__(self, tokens, lengths):  # int[B, T], int[B] -> logits [B, T, VOCAB]
        return self.readout(self.rnn(self.embed(tokens), lengths=lengths))


def loss_fn(model, tokens, lengths):
    logits = model(tokens, lengths)[:, 1:]
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, :-1])
    mask = jnp.arange(1, T) < lengths[:, None]
    return jnp.sum(nll * mask) / jnp.sum(mask)


@nnx.jit
def train_step(model, optimizer, tokens, lengths):
    loss, grads = nnx.value_and_grad(loss_fn)(model, tokens, lengths)
    optimizer.update(model, grads)
    return loss


def main(steps: int) -> tuple[float, float]:
    model = Tagger(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    losses = []
    for key in jax.random.split(jax.random.key(1), steps):
        k_tokens, k_lengths = jax.random.split(key)
        tokens = jax.random.randint(k_tokens, (BATCH, T), 0, VOCAB)
        lengths = jax.random.randint(k_lengths, (BATCH,), 2, T + 1)
        losses.append(float(train_step(model, optimizer, tokens, lengths)))
    return losses[0], losses[-1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    first, last = main(parser.parse_args().steps)
    print(f"loss {first:.3f} -> {last:.3f} (chance: log {VOCAB} = {jnp.log(VOCAB):.3f})")
