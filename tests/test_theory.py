"""Siegelmann-Sontag networks: exact runs equal direct simulation; float runs break where theory says."""

import itertools
import random

import jax.numpy as jnp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnjax.theory import Rule, StackMachine, compile_machine, decode_stack, encode_stack, machines
from rnnjax.theory.stack_machine import tape_from_stacks


def _words(alphabet, max_len):
    return ["".join(w) for k in range(max_len + 1) for w in itertools.product(alphabet, repeat=k)]


@given(st.lists(st.integers(0, 1), max_size=30))
def test_stack_encoding_round_trips(bits):
    assert decode_stack(encode_stack(tuple(bits))) == tuple(bits)


@pytest.mark.parametrize("build", [machines.anbn_recogniser, machines.balanced_parentheses, machines.binary_reversal])
def test_exact_network_run_equals_direct_simulation(build):
    machine = build()
    compiled = compile_machine(machine)
    assert compiled.cell().name.startswith("elman-saturated")
    words = _words(machine.alphabet, 5 if len(machine.alphabet) == 2 else 4)
    rng = random.Random(0)
    words += ["".join(rng.choice(machine.alphabet) for _ in range(rng.randint(10, 30))) for _ in range(20)]
    for word in words[1:]:
        assert compiled.decode(compiled.run_exact(word)) == machine.run(word), word


def test_recognisers_accept_their_languages():
    anbn, dyck = machines.anbn_recogniser(), machines.balanced_parentheses()
    for w in _words("ab", 8):
        n = len(w) // 2
        assert anbn.accepts(w) == (w == "a" * n + "b" * n)
    for w in _words("()", 8):
        depths = list(itertools.accumulate(1 if c == "(" else -1 for c in w))
        assert dyck.accepts(w) == (not depths or (min(depths) >= 0 and depths[-1] == 0))


@pytest.mark.parametrize("build", [machines.binary_increment, machines.busy_beaver_2, machines.busy_beaver_3])
def test_compiled_turing_machines_match_direct_tape_simulation(build):
    tm = build()
    compiled = compile_machine(tm.as_stack_machine())
    tapes = [(), (1,), (1, 1, 0, 1), (1, 1, 1)] if tm.name == "binary increment" else [()]
    for tape in tapes:
        state, cells, head, steps = tm.run(tape, 100)
        ticks = "t" * (2 * steps + 2)
        final = compiled.decode(compiled.run_exact(ticks, [(), tape]))[-1]
        assert final.state == state
        got, _ = tape_from_stacks(final.stacks)
        assert all(got.get(k, 0) == cells.get(head + k, 0) for k in range(-12, 13)), (tape, got, cells)
    if tm.name == "busy beaver 2":
        assert steps == 6 and sum(cells.values()) == 4
    if tm.name == "busy beaver 3":
        assert sum(cells.values()) == 6


def test_binary_increment_adds_one():
    tm = machines.binary_increment()
    for n in range(64):
        bits = tuple(int(c) for c in bin(n)[2:][::-1])
        _, cells, _, _ = tm.run(bits, 100)
        assert sum(b << k for k, b in cells.items()) == n + 1


def test_float_runs_break_past_half_the_significand():
    compiled = compile_machine(machines.binary_reversal())
    w = "0110100111010110"  # depth 16
    emitted = {}
    for dtype in ("float32", "float64"):
        (hs,) = compiled.run_float([w + "#" * len(w)], jnp.dtype(dtype))
        emitted[dtype] = "".join(s.emitted or "" for s in compiled.decode(hs))
    exact = "".join(s.emitted or "" for s in compiled.decode(compiled.run_exact(w + "#" * len(w))))
    assert exact == emitted["float64"] == w[::-1]
    assert emitted["float32"] != w[::-1]  # 16 pushes need 32 significand bits
    (shallow,) = compiled.run_float(["0110100111#" * 1 + "#" * 9], jnp.float32)  # depth 10 fits in float32
    assert "".join(s.emitted or "" for s in compiled.decode(shallow)) == "1110010110"


def test_bad_machines_fail_with_the_reason():
    with pytest.raises(ValueError, match="not deterministic"):
        StackMachine("m", ("q",), "q", "a", 1, (Rule("q", "a", "q", ("any",)), Rule("q", "a", "q", ("1",))))
    with pytest.raises(ValueError, match="replace on stack 0 needs the top known"):
        StackMachine("m", ("q",), "q", "a", 1, (Rule("q", "a", "q", ("0|empty",), ("replace1",)),))
    with pytest.raises(ValueError, match="outside"):
        StackMachine("m", ("q",), "q", "a", 1, (Rule("q", "b", "q"),))
    with pytest.raises(ValueError, match="not in the alphabet"):
        machines.anbn_recogniser().run("abc")
