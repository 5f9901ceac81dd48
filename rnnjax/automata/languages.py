"""Reference regular languages: the seven Tomita grammars and bounded-depth balanced parentheses."""

from __future__ import annotations

import itertools

from rnnjax.automata.dfa import DFA

# Tomita 1982, over {0, 1}; state 0 is the start.
_TOMITA = {
    1: ("1*", [[1, 0], [1, 1]], [1, 0]),
    2: ("(10)*", [[2, 1], [0, 2], [2, 2]], [1, 0, 0]),
    3: (
        "no odd run of 1s directly followed by an odd run of 0s",
        [[0, 1], [2, 0], [3, 4], [2, 1], [4, 4]],
        [1, 1, 0, 1, 0],
    ),
    4: ("no 000", [[1, 0], [2, 0], [3, 0], [3, 3]], [1, 1, 1, 0]),
    5: ("even number of 0s and of 1s", [[1, 2], [0, 3], [3, 0], [2, 1]], [1, 0, 0, 0]),
    6: ("#0 - #1 = 0 mod 3", [[1, 2], [2, 0], [0, 1]], [1, 0, 0]),
    7: ("0*1*0*1*", [[0, 1], [2, 1], [2, 3], [4, 3], [4, 4]], [1, 1, 1, 1, 0]),
}


def tomita(k: int) -> DFA:
    """The minimal DFA of Tomita grammar ``k`` (1..7) over "01"."""
    if k not in _TOMITA:
        raise ValueError(f"Tomita grammars are numbered 1..7, got {k!r}")
    _, transitions, accepting = _TOMITA[k]
    return DFA("01", transitions, accepting)


def balanced_parentheses(max_depth: int) -> DFA:
    """Balanced strings over "()" whose nesting never exceeds ``max_depth``
    (states: depth 0..max_depth, then a sink)."""
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be a positive integer, got {max_depth!r}")
    sink = max_depth + 1
    transitions = [[min(d + 1, sink), d - 1 if d > 0 else sink] for d in range(max_depth + 1)] + [[sink, sink]]
    return DFA("()", transitions, [d == 0 for d in range(max_depth + 2)])


def words(alphabet: str, max_length: int):
    """Every word up to ``max_length``, shortest first."""
    for k in range(max_length + 1):
        yield from ("".join(w) for w in itertools.product(alphabet, repeat=k))


REFERENCE_LANGUAGES = {f"tomita{k}": (lambda k=k: tomita(k)) for k in _TOMITA} | {
    "balanced_parentheses": lambda: balanced_parentheses(4)
}
