"""Deterministic finite automata: run, minimise, compare, sample, draw."""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class DFA:
    """A complete DFA over ``alphabet`` (one character per symbol).

    Attributes:
      transitions: ``int[S, A]``, the next state per state and symbol index.
      accepting: ``bool[S]``.
      start: the initial state.
    """

    alphabet: str
    transitions: np.ndarray
    accepting: np.ndarray
    start: int = 0

    def __post_init__(self):
        t, acc = np.asarray(self.transitions), np.asarray(self.accepting, bool)
        if t.ndim != 2 or t.shape[1] != len(self.alphabet) or acc.shape != (t.shape[0],):
            raise ValueError(
                f"transitions must be [S, {len(self.alphabet)}] and accepting [S], got {t.shape}, {acc.shape}"
            )
        if t.size and (t.min() < 0 or t.max() >= t.shape[0]) or not 0 <= self.start < t.shape[0]:
            raise ValueError("transitions and start must name states 0..S-1")
        object.__setattr__(self, "transitions", t.astype(np.int32))
        object.__setattr__(self, "accepting", acc)

    @property
    def size(self) -> int:
        return self.transitions.shape[0]

    def state(self, word: str, state: int | None = None) -> int:
        q = self.start if state is None else state
        for c in word:
            q = int(self.transitions[q, self.alphabet.index(c)])
        return q

    def accepts(self, word: str) -> bool:
        return bool(self.accepting[self.state(word)])

    def reachable(self) -> DFA:
        """The DFA restricted to the states reachable from the start, renumbered in BFS order."""
        order, seen, queue = [], {self.start}, deque([self.start])
        while queue:
            q = queue.popleft()
            order.append(q)
            for r in self.transitions[q]:
                if int(r) not in seen:
                    seen.add(int(r))
                    queue.append(int(r))
        new = {q: i for i, q in enumerate(order)}
        transitions = np.array([[new[int(r)] for r in self.transitions[q]] for q in order]).reshape(len(order), -1)
        return DFA(self.alphabet, transitions, self.accepting[order], 0)

    def minimise(self) -> DFA:
        """The minimal equivalent DFA (unreachable states removed, then Moore's
        partition refinement), states in BFS order from the start."""
        dfa = self.reachable()
        block = dfa.accepting.astype(int)
        while True:
            signature = [(block[q], *block[dfa.transitions[q]]) for q in range(dfa.size)]
            ids = {s: i for i, s in enumerate(dict.fromkeys(signature))}
            refined = np.array([ids[s] for s in signature])
            if len(ids) == len(set(block.tolist())):
                break
            block = refined
        transitions = np.zeros((len(ids), len(self.alphabet)), int)
        accepting = np.zeros(len(ids), bool)
        for q in range(dfa.size):
            transitions[refined[q]] = refined[dfa.transitions[q]]
            accepting[refined[q]] = dfa.accepting[q]
        return DFA(self.alphabet, transitions, accepting, int(refined[dfa.start])).reachable()

    def counterexample(self, other: DFA) -> str | None:
        """A shortest word on which ``self`` and ``other`` disagree, or None if equivalent."""
        if other.alphabet != self.alphabet:
            raise ValueError(f"alphabets differ: {self.alphabet!r} vs {other.alphabet!r}")
        start = (self.start, other.start)
        parent = {start: None}
        queue = deque([start])
        while queue:
            p, q = queue.popleft()
            if self.accepting[p] != other.accepting[q]:
                word, node = [], (p, q)
                while parent[node] is not None:
                    node, symbol = parent[node]
                    word.append(symbol)
                return "".join(reversed(word))
            for a, symbol in enumerate(self.alphabet):
                nxt = (int(self.transitions[p, a]), int(other.transitions[q, a]))
                if nxt not in parent:
                    parent[nxt] = ((p, q), symbol)
                    queue.append(nxt)
        return None

    def equivalent(self, other: DFA) -> bool:
        return self.counterexample(other) is None

    def sample(self, rng: np.random.Generator, length: int, accept: bool) -> str | None:
        """A word of ``length`` drawn uniformly among those the DFA accepts (``accept``)
        or rejects; None if there is none."""
        goal = self.accepting == accept
        counts = [goal.astype(float)]  # counts[k][q]: words of length k from q reaching the goal
        for _ in range(length):
            counts.append(counts[-1][self.transitions].sum(axis=1))
        q, word = self.start, []
        if counts[length][q] == 0:
            return None
        for k in range(length, 0, -1):
            weights = counts[k - 1][self.transitions[q]]
            a = int(rng.choice(len(self.alphabet), p=weights / weights.sum()))
            word.append(self.alphabet[a])
            q = int(self.transitions[q, a])
        return "".join(word)

    def to_dot(self, name: str = "dfa") -> str:
        """Graphviz source: double circles accept, an arrow marks the start."""
        lines = [f'digraph "{name}" {{', "  rankdir=LR;", '  start [shape=point];']
        for q in range(self.size):
            shape = "doublecircle" if self.accepting[q] else "circle"
            lines.append(f"  q{q} [shape={shape}, label=\"{q}\"];")
        lines.append(f"  start -> q{self.start};")
        edges: dict[tuple[int, int], list[str]] = {}
        for q in range(self.size):
            for a, symbol in enumerate(self.alphabet):
                edges.setdefault((q, int(self.transitions[q, a])), []).append(symbol)
        lines += [f'  q{p} -> q{r} [label="{",".join(s)}"];' for (p, r), s in edges.items()]
        return "\n".join(lines + ["}"])
