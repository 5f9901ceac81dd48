"""Example machines: recognisers, a transducer and small Turing machines."""

from __future__ import annotations

from rnnjax.theory.stack_machine import Rule, StackMachine, TuringMachine


def anbn_recogniser() -> StackMachine:
    """a^n b^n, n >= 0: push a 1 per a, pop one per b; accept in A or B with an empty stack."""
    rules = (
        Rule("A", "a", "A", (), ("push1",)),
        Rule("A", "b", "B", ("1",), ("pop",)),
        Rule("A", "b", "dead", ("empty",)),
        Rule("B", "b", "B", ("1",), ("pop",)),
        Rule("B", "b", "dead", ("empty",)),
        Rule("B", "a", "dead"),
    )
    return StackMachine("a^n b^n", ("A", "B", "dead"), "A", "ab", 1, rules, ("A", "B"), accept_on_empty=True)


def balanced_parentheses() -> StackMachine:
    """Dyck-1 over "()": push on "(", pop on ")", die on ")" with an empty stack."""
    rules = (
        Rule("ok", "(", "ok", (), ("push1",)),
        Rule("ok", ")", "ok", ("1",), ("pop",)),
        Rule("ok", ")", "dead", ("empty",)),
    )
    return StackMachine("balanced parentheses", ("ok", "dead"), "ok", "()", 1, rules, ("ok",), accept_on_empty=True)


def binary_reversal() -> StackMachine:
    """Reads w in {0,1}*, pushing it; each "#" pops the top and emits it, so
    ``w #^|w|`` emits reverse(w). A bit after a "#" kills the machine."""
    rules = (
        Rule("write", "0", "write", (), ("push0",)),
        Rule("write", "1", "write", (), ("push1",)),
        Rule("write", "#", "read", ("0",), ("pop",), emit="0"),
        Rule("write", "#", "read", ("1",), ("pop",), emit="1"),
        Rule("read", "#", "read", ("0",), ("pop",), emit="0"),
        Rule("read", "#", "read", ("1",), ("pop",), emit="1"),
        Rule("read", "0", "dead"),
        Rule("read", "1", "dead"),
    )
    return StackMachine("binary reversal", ("write", "read", "dead"), "write", "01#", 1, rules, outputs="01")


def binary_increment() -> TuringMachine:
    """Adds 1 to a binary number written least significant bit first."""
    return TuringMachine("binary increment", "carry", {("carry", 1): (0, "R", "carry"), ("carry", 0): (1, "R", "done")})


def busy_beaver_2() -> TuringMachine:
    """The 2-state busy beaver: halts after 6 steps with 4 ones."""
    delta = {("A", 0): (1, "R", "B"), ("A", 1): (1, "L", "B"), ("B", 0): (1, "L", "A"), ("B", 1): (1, "R", "H")}
    return TuringMachine("busy beaver 2", "A", delta)


def busy_beaver_3() -> TuringMachine:
    """A 3-state busy beaver (Lin & Rado): halts with 6 ones."""
    delta = {
        ("A", 0): (1, "R", "B"), ("A", 1): (1, "R", "H"),
        ("B", 0): (0, "R", "C"), ("B", 1): (1, "R", "B"),
        ("C", 0): (1, "L", "C"), ("C", 1): (1, "L", "A"),
    }
    return TuringMachine("busy beaver 3", "A", delta)
