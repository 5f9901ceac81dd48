"""Time and memory of an RNS-RNN train step (forward + backward) by length.

Prints JSON: per n and variant, seconds per train step and per time step, and the
bytes XLA reports for the compiled step (arguments + outputs + temporaries), for
an LSTM controller (hidden 20) with an RNS stack (Q = 2, S = 3), batch 10, in
the log semiring. Variants:

- growing buffer (the default run from the initial state): the buffer is sized
  for the steps up to the end of each block of 16, and each block is recomputed
  in the backward pass (``augment(..., remat_block=16)``);
- the same without recomputation (every step's residuals kept);
- fixed buffer: a run from a given state (the chunked path), full-capacity buffer,
  ``jax.checkpoint``-ed blocks of 16;
- a window of 16.

Named baselines in the same run: the plain LSTM, and an eager PyTorch version of
the same recurrence in log space (``torch_rns_seconds``; its tensors have the live
sizes of each step, no padding), when torch is installed.

    python benchmarks/nondeterministic_stack.py            # n in {32, 64, 128}
    python benchmarks/nondeterministic_stack.py --quick    # n = 32
    python benchmarks/nondeterministic_stack.py --out DIR  # also DIR/benchmark.json and DIR/table.md (tables.py)
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import tables
from timing import best_time, compiled_bytes

import rnnjax
from rnnjax import cells, memory

BATCH, HIDDEN, INPUT, Q, S = 10, 20, 4, 2, 3


def variants(n: int) -> dict:
    lstm = cells.lstm(HIDDEN)
    rns = memory.nondeterministic_stack(Q, S)
    return {
        "lstm (baseline)": (lstm, False),
        "rns, growing buffer, recomputed blocks of 16 (default)": (memory.augment(lstm, rns, capacity=n), False),
        "rns, growing buffer, no recomputation": (memory.augment(lstm, rns, capacity=n, remat_block=None), False),
        "rns, fixed buffer, checkpointed blocks of 16": (memory.augment(lstm, rns, capacity=n), True),
        "rns, window 16": (memory.augment(lstm, memory.nondeterministic_stack(Q, S, window=16), capacity=n), False),
    }


def measure(cell, n: int, from_given_state: bool) -> tuple[float, int]:
    params = cell.init(jax.random.key(0), INPUT)
    xs = jax.random.normal(jax.random.key(1), (BATCH, n, INPUT))

    def loss(params):
        state = cell.initial_state(params) if from_given_state else None
        return jnp.mean(jax.vmap(lambda x: rnnjax.scan(cell, params, x, state)[1])(xs) ** 2)

    step = jax.jit(jax.value_and_grad(loss)).lower(params).compile()
    return best_time(step, params, min_seconds=2.0, min_reps=3), compiled_bytes(step)


def torch_rns_stack(batch: int):
    """The RNS stack (Q, S) in eager PyTorch, log space: ``(init, update)`` with
    ``update(state, actions [batch, action_dim]) -> (state, read [batch, Q * S])``.
    γ is a list of columns with the live number of rows; the pop contracts the live
    (i, k) square; the logsumexp is safe on all -inf slices. Written for this
    benchmark (and checked against ``memory.nondeterministic_stack`` in the tests)."""
    import torch

    qs, inf = Q * S, float("inf")

    def lse(x, dims):
        m = x.detach().amax(dims, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        total = torch.exp(x - m).sum(dims)
        safe = torch.where(total > 0, torch.log(torch.where(total > 0, total, torch.ones_like(total))), -inf)
        return safe + m.reshape(total.shape)

    def init():
        bottom = torch.full((batch, 1, Q, S, Q, S), -inf)
        bottom[:, 0, 0, 0, 0, 0] = 0.0
        alpha = torch.full((batch, Q, S), -inf)
        alpha[:, 0, 0] = 0.0
        return [bottom[:, :0], bottom], [alpha, alpha]  # γ[· -> position c], α[c]; position 0 is step -1

    def update(state, actions):
        cols, alphas = state
        push = actions[:, : qs * qs].reshape(batch, Q, S, Q, S)
        rep = actions[:, qs * qs : 2 * qs * qs].reshape(batch, Q, S, Q, S)
        pop = actions[:, 2 * qs * qs :].reshape(batch, Q, S, Q)
        c = len(cols)
        prev = cols[c - 1]  # [B, i, q, x, s, z]
        replaced = lse(prev[..., None, None] + rep[:, None, None, None], (4, 5))
        g = lse(prev[..., None] + pop[:, None, None, None], (4, 5))  # [B, k, u, y, r]
        square = torch.stack([torch.cat([cols[k], torch.full((batch, c - 1 - k, Q, S, Q, S), -inf)], 1)
                              for k in range(c - 1)], 2)  # [B, i, k, q, x, u, y]
        popped = lse(square.permute(0, 1, 3, 4, 6, 2, 5)[:, :, :, :, None]
                     + g.permute(0, 4, 3, 1, 2)[:, None, None, None], (6, 7))  # [B, i, q, x, r, y]
        column = torch.cat([torch.logaddexp(replaced, popped), push[:, None]], 1)  # row c-1: the push
        alpha = lse(torch.stack(alphas[:c], 1)[..., None, None] + column, (1, 2, 3))
        flat = alpha.reshape(batch, qs)
        return (cols + [column], alphas + [alpha]), torch.exp(flat - torch.logsumexp(flat, 1, keepdim=True))

    return init, update


def torch_rns_seconds(n: int) -> float | None:
    """The train step in eager PyTorch: an LSTMCell controller fed [x_t, r_{t-1}],
    linear actions, ``torch_rns_stack``, loss mean(y^2) with y_t = [h_t, r_t]."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    qs = Q * S
    lstm, act = torch.nn.LSTMCell(INPUT + qs, HIDDEN), torch.nn.Linear(HIDDEN, 2 * qs * qs + qs * Q)
    init, update = torch_rns_stack(BATCH)
    xs = torch.randn(BATCH, n, INPUT)

    def step():
        lstm.zero_grad()
        act.zero_grad()
        state, read = init(), torch.full((BATCH, qs), 1.0 / qs)
        h = c = torch.zeros(BATCH, HIDDEN)
        outs = []
        for t in range(n):
            h, c = lstm(torch.cat([xs[:, t], read], 1), (h, c))
            state, read = update(state, act(h))
            outs.append(torch.cat([h, read], 1))
        torch.stack(outs, 1).pow(2).mean().backward()

    return best_time(step, min_seconds=2.0, min_reps=3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    tables.add_out_option(parser)
    args = parser.parse_args()
    records = []
    for n in (32,) if args.quick else (32, 64, 128):
        timed = {name: measure(cell, n, given) for name, (cell, given) in variants(n).items()}
        torch_seconds = torch_rns_seconds(n)
        if torch_seconds is not None:
            timed["torch eager rns (baseline)"] = (torch_seconds, None)
        for name, (seconds, nbytes) in timed.items():
            record = {
                "impl": name, "n": n, "batch": BATCH, "s_per_batch": round(seconds, 4),
                "ms_per_time_step": round(1e3 * seconds / n, 3), "compiled_bytes": nbytes,
                "slowdown_vs_lstm": round(seconds / timed["lstm (baseline)"][0], 1),
            }
            if torch_seconds is not None:
                record["speedup_vs_torch"] = round(torch_seconds / seconds, 2)
            records.append(record)
            print(json.dumps(record), flush=True)
    report = {"benchmark": "RNS-RNN train step (fwd+bwd)", "backend": jax.default_backend(),
              "device": str(jax.devices()[0]), "jax": jax.__version__, "Q": Q, "S": S, "results": records}
    tables.publish(report, args.out)


if __name__ == "__main__":
    main()
