"""Extracting DFAs from recurrent networks, through ``Cell.step`` (so any cell works).

- ``lstar``: Angluin's L* with the network as membership oracle; equivalence
  queries explore the network's state space in lockstep with the hypothesis over
  a partition of that space, refined where the two conflict (Weiss, Goldberg &
  Yahav, ICML 2018).
- ``quantise``: the older baseline: cluster the states visited on sample words
  (k-means), take each cluster's majority transition and label, minimise.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from rnnjax.automata.dfa import DFA
from rnnjax.automata.languages import words
from rnnjax.cells import Cell, elman


@dataclasses.dataclass(frozen=True, eq=False)
class Acceptor:
    """A recogniser stepped symbol by symbol.

    Attributes:
      alphabet: input symbols.
      start: ``() -> (state, y)`` after reading nothing (e.g. after a start token).
      step: ``(state, symbol index) -> (state, y)``.
      accept: ``y -> bool``.
    """

    alphabet: str
    start: Callable[[], tuple[Any, Any]]
    step: Callable[[Any, int], tuple[Any, Any]]
    accept: Callable[[Any], bool]

    def __post_init__(self):
        object.__setattr__(self, "_cache", {"": self.start()})

    def run(self, word: str) -> tuple[Any, Any]:
        """``(state, y)`` after ``word`` (prefixes are cached)."""
        cache = self._cache
        if word not in cache:
            state, _ = self.run(word[:-1])
            cache[word] = self.step(state, self.alphabet.index(word[-1]))
        return cache[word]

    def accepts(self, word: str) -> bool:
        return self.accept(self.run(word)[1])

    def vector(self, word: str) -> np.ndarray:
        """The network state after ``word`` as one flat vector."""
        return np.asarray(ravel_pytree(self.run(word)[0])[0], np.float64)


def acceptor(cell: Cell, params, encode: Callable, readout: Callable, alphabet: str, start_token=None) -> Acceptor:
    """An Acceptor from a cell: ``encode(token) -> x: [D]``, ``readout(y) -> logits``
    (accept iff the argmax is 1, i.e. class "in the language"); ``start_token``,
    if given, is read first and its output decides the empty word."""

    @jax.jit
    def step(state, token):
        return cell.step(params, state, cell.project(params, encode(token)[None])[0])

    def start():
        state = cell.initial_state(params)
        if start_token is None:
            return state, None
        return step(state, jnp.asarray(start_token))

    def accept(y):
        return y is not None and bool(jnp.argmax(readout(y)) == 1)

    return Acceptor(alphabet, start, lambda s, a: step(s, jnp.asarray(a)), accept)


def model_acceptor(model, params, alphabet: str, start_token: int | None) -> Acceptor:
    """An Acceptor from a SequenceModel trained to tag prefixes (class 1 = member)."""
    params = jax.tree_util.tree_map(jnp.asarray, params)
    cell, cell_params = model.recurrence(params, jnp.zeros((1,), jnp.int32))
    encode = lambda t: model.encode(params, t[None])[0]  # noqa: E731
    return acceptor(cell, cell_params, encode, lambda y: model.readout(params, y), alphabet, start_token)


def dfa_network(dfa: DFA) -> Acceptor:
    """A saturated-linear Elman network built by hand to run ``dfa`` exactly.

    One neuron per transition (p, a) says "the last symbol read was a, in state p",
    plus a start neuron; with ``in(q) = sum of transition neurons into q`` (and the
    start neuron for the start state),

        n'_{(q, b)} = sigma(in(q) + x_b - 1),     start' = 0,

    and a linear readout of ``in`` over accepting states decides membership.
    """
    pairs = [(p, a) for p in range(dfa.size) for a in range(len(dfa.alphabet))]
    hidden = len(pairs) + 1
    into = np.zeros((hidden, dfa.size))  # into[i, q] = 1 if neuron i means "now in q"
    for i, (p, a) in enumerate(pairs):
        into[i, dfa.transitions[p, a]] = 1
    into[-1, dfa.start] = 1
    wh = np.zeros((hidden, hidden))
    wx = np.zeros((len(dfa.alphabet), hidden))
    b = np.zeros(hidden)
    for i, (q, a) in enumerate(pairs):
        wh[:, i] = into[:, q]
        wx[a, i] = 1
        b[i] = -1
    b[-1] = -1
    params = {"wx": jnp.asarray(wx, jnp.float32), "wh": jnp.asarray(wh, jnp.float32), "b": jnp.asarray(b, jnp.float32)}
    accepting = jnp.asarray(into @ dfa.accepting.astype(float), jnp.float32)
    h0 = jnp.zeros(hidden).at[-1].set(1.0)
    readout = lambda y: jnp.stack([0.5 - y @ accepting, y @ accepting - 0.5])  # noqa: E731
    cell = elman(hidden, "saturated", hoist=False)
    network = acceptor(cell, params, lambda t: jax.nn.one_hot(t, len(dfa.alphabet)), readout, dfa.alphabet)
    return dataclasses.replace(network, start=lambda: (h0, h0))


@dataclasses.dataclass(frozen=True)
class Extraction:
    dfa: DFA
    seconds: float
    finished: bool
    """False if the time limit stopped it (``dfa`` is then the last hypothesis)"""
    membership_queries: int = 0
    equivalence_queries: int = 0
    refinements: int = 0


class _Table:
    """L* observation table with Maler-Pnueli counterexample handling (suffixes into E)."""

    def __init__(self, member: Callable[[str], bool], alphabet: str):
        self.member, self.alphabet = member, alphabet
        self.prefixes, self.suffixes, self.cache = [""], [""], {}

    def query(self, word: str) -> bool:
        if word not in self.cache:
            self.cache[word] = self.member(word)
        return self.cache[word]

    def row(self, prefix: str) -> tuple[bool, ...]:
        return tuple(self.query(prefix + e) for e in self.suffixes)

    def close(self) -> None:
        while True:
            rows = {self.row(s) for s in self.prefixes}
            missing = next((s + a for s in self.prefixes for a in self.alphabet if self.row(s + a) not in rows), None)
            if missing is None:
                return
            self.prefixes.append(missing)

    def hypothesis(self) -> tuple[DFA, dict[tuple, str]]:
        """The DFA of the closed table, and a representative prefix per state row."""
        self.close()
        representatives = {}
        for s in self.prefixes:
            representatives.setdefault(self.row(s), s)
        rows = list(representatives)
        state = {r: i for i, r in enumerate(rows)}
        transitions = [[state[self.row(representatives[r] + a)] for a in self.alphabet] for r in rows]
        accepting = [r[0] for r in rows]
        return DFA(self.alphabet, transitions, accepting, state[self.row("")]), representatives

    def add_counterexample(self, word: str) -> None:
        for i in range(len(word)):
            if word[i:] not in self.suffixes:
                self.suffixes.append(word[i:])


class _Partition:
    """Nearest-centre partition of the network's state space; split by adding centres."""

    def __init__(self, centres: list[np.ndarray]):
        self.centres = list(centres)

    def cell(self, v: np.ndarray) -> int:
        return int(np.argmin([np.sum((c - v) ** 2) for c in self.centres]))

    def split(self, u: np.ndarray, v: np.ndarray) -> None:
        self.centres += [u, v]


def _find_counterexample(net: Acceptor, hypothesis: DFA, partition: _Partition, deadline: float):
    """Explores the network breadth first, in lockstep with ``hypothesis``, over the
    partition's cells. Returns ``("counterexample", word)``, ``("refine", (u, v))``
    (two states in one cell that the hypothesis, rightly, tells apart) or
    ``("equivalent", None)`` once every (cell, hypothesis state) pair is explored;
    ``("timeout", None)`` past ``deadline``."""
    seen: dict[int, tuple[int, str]] = {}
    expanded = set()
    queue = deque([""])
    while queue:
        if time.monotonic() > deadline:
            return "timeout", None
        word = queue.popleft()
        q = hypothesis.state(word)
        if net.accepts(word) != bool(hypothesis.accepting[q]):
            return "counterexample", word
        c = partition.cell(net.vector(word))
        if c in seen and seen[c][0] != q:
            other = seen[c][1]
            # the hypothesis separates q and seen[c][0] by `suffix`; does the network agree?
            suffix = _separating_suffix(hypothesis, q, seen[c][0])
            for w in (word + suffix, other + suffix):
                if net.accepts(w) != hypothesis.accepts(w):
                    return "counterexample", w
            return "refine", (net.vector(word), net.vector(other))
        seen.setdefault(c, (q, word))
        if (c, q) in expanded:
            continue
        expanded.add((c, q))
        queue.extend(word + a for a in net.alphabet)
    return "equivalent", None


def _separating_suffix(dfa: DFA, p: int, q: int) -> str:
    suffix = dataclasses.replace(dfa, start=p).counterexample(dataclasses.replace(dfa, start=q))
    if suffix is None:
        raise AssertionError("states of a minimal hypothesis are always separable")
    return suffix


def lstar(net: Acceptor, time_limit: float = 60.0, initial_depth: int = 3) -> Extraction:
    """L* extraction (Weiss et al. 2018) with the network as membership oracle; returns
    the last hypothesis if ``time_limit`` seconds pass.

    The partition of state space starts with one cell per state reached by the
    words of length <= ``initial_depth`` (a single cell would let a one-state
    hypothesis pass the first equivalence query whenever the network accepts
    every word up to the first revisit)."""
    start = time.monotonic()
    deadline = start + time_limit
    table = _Table(net.accepts, net.alphabet)
    partition = _Partition([net.vector(w) for w in words(net.alphabet, initial_depth)])
    equivalence = refinements = 0
    while True:
        hypothesis, _ = table.hypothesis()
        equivalence += 1
        while True:
            verdict, found = _find_counterexample(net, hypothesis, partition, deadline)
            if verdict != "refine":
                break
            partition.split(*found)
            refinements += 1
        if verdict == "counterexample":
            table.add_counterexample(found)
            continue
        return Extraction(
            hypothesis.minimise(), time.monotonic() - start, verdict == "equivalent", len(table.cache), equivalence,
            refinements,
        )


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 50) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding: the cluster of each point ``int[N]``."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, min(k, len(points))):
        d = np.min([np.sum((points - c) ** 2, axis=1) for c in centres], axis=0)
        if d.sum() == 0:
            break
        centres.append(points[rng.choice(len(points), p=d / d.sum())])
    centres = np.array(centres)
    for _ in range(iterations):
        labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        new = np.array([points[labels == j].mean(0) if np.any(labels == j) else centres[j]
                        for j in range(len(centres))])
        if np.allclose(new, centres):
            break
        centres = new
    return labels


def standardise(points: np.ndarray) -> np.ndarray:
    """Each column of ``points: [N, D]`` shifted to mean 0 and scaled to standard
    deviation 1; constant columns become 0."""
    spread = points.std(axis=0)
    return (points - points.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def quantise(net: Acceptor, words: list[str], k: int, seed: int = 0, standardised: bool = True) -> Extraction:
    """Quantisation baseline: k-means over the states after every prefix of ``words``
    (each state dimension standardised first, unless not ``standardised``: an LSTM's
    unbounded cell values would otherwise decide the clusters alone); each cluster's
    transitions go to the majority next cluster and its label is the majority label;
    transitions never seen go to a rejecting sink. Minimised."""
    start = time.monotonic()
    prefixes = sorted({w[:i] for w in words for i in range(len(w) + 1)}, key=lambda w: (len(w), w))
    index = {p: i for i, p in enumerate(prefixes)}
    states = np.stack([net.vector(p) for p in prefixes])
    labels = kmeans(standardise(states) if standardised else states, k, np.random.default_rng(seed))
    clusters = int(labels.max()) + 1
    sink = clusters
    votes = np.zeros((clusters + 1, len(net.alphabet), clusters + 1))
    accept_votes = np.zeros((clusters + 1, 2))
    for p in prefixes:
        accept_votes[labels[index[p]], int(net.accepts(p))] += 1
        for a, symbol in enumerate(net.alphabet):
            if p + symbol in index:
                votes[labels[index[p]], a, labels[index[p + symbol]]] += 1
    transitions = np.where(votes.sum(-1) > 0, votes.argmax(-1), sink)
    transitions[sink] = sink
    accepting = accept_votes[:, 1] > accept_votes[:, 0]
    dfa = DFA(net.alphabet, transitions, accepting, int(labels[index[""]])).minimise()
    return Extraction(dfa, time.monotonic() - start, True, len(prefixes))
