"""Deterministic stack machines over binary stacks, and Turing machines as two-stack machines.

A machine reads one input symbol per step. In state q on symbol a it applies the
one rule whose conditions on the stack tops hold: it moves to a new state,
applies one action to each stack and may emit an output symbol. With no
applicable rule nothing changes. Stacks hold bits; a stack is a tuple, top first.

A single-tape binary Turing machine (blank = 0) runs as a two-stack machine on
"tick" inputs: stack 0 holds the tape left of the head (nearest cell on top),
stack 1 the head cell and everything right of it. A left move takes two ticks.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Literal

Condition = Literal["any", "0", "1", "empty", "0|empty"]
Action = Literal["keep", "push0", "push1", "pop", "replace0", "replace1"]
CONDITIONS = ("any", "0", "1", "empty", "0|empty")
ACTIONS = ("keep", "push0", "push1", "pop", "replace0", "replace1")
Stack = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Rule:
    """In ``state`` reading ``symbol`` with stack tops matching ``tops`` (one
    condition per stack; missing ones are "any"): go to ``next_state``, apply
    ``actions`` (missing ones are "keep") and emit ``emit`` (or nothing)."""

    state: str
    symbol: str
    next_state: str
    tops: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    emit: str | None = None


def top_matches(condition: Condition, stack: Stack) -> bool:
    top = stack[0] if stack else None
    return {"any": True, "0": top == 0, "1": top == 1, "empty": top is None, "0|empty": top != 1}[condition]


def apply_action(action: Action, stack: Stack) -> Stack:
    if action == "keep":
        return stack
    if action.startswith("push"):
        return (int(action[-1]),) + stack
    if action == "pop":
        return stack[1:]
    return (int(action[-1]),) + stack[1:]  # replace: the rule's condition guarantees a top


@dataclasses.dataclass(frozen=True)
class Step:
    """The configuration after one input symbol."""

    state: str
    stacks: tuple[Stack, ...]
    emitted: str | None


@dataclasses.dataclass(frozen=True)
class StackMachine:
    """A deterministic machine with ``stacks`` binary stacks (see the module docstring).

    Attributes:
      accepting: states that accept; with ``accept_on_empty`` a string is accepted
        only if the stacks are also empty at the end.
      outputs: the symbols rules may emit.
    """

    name: str
    states: tuple[str, ...]
    start: str
    alphabet: str
    stacks: int
    rules: tuple[Rule, ...]
    accepting: tuple[str, ...] = ()
    accept_on_empty: bool = False
    outputs: str = ""

    def __post_init__(self):
        if self.start not in self.states or not set(self.accepting) <= set(self.states):
            raise ValueError(
                f"{self.name}: start {self.start!r} and accepting {self.accepting} must be among {self.states}"
            )
        for r in self.rules:
            where = f"{self.name}: rule {r}"
            if r.state not in self.states or r.next_state not in self.states:
                raise ValueError(f"{where} names a state outside {self.states}")
            if r.symbol not in self.alphabet or (r.emit is not None and r.emit not in self.outputs):
                raise ValueError(
                    f"{where} reads a symbol outside {self.alphabet!r} or emits one outside {self.outputs!r}"
                )
            if len(r.tops) > self.stacks or len(r.actions) > self.stacks:
                raise ValueError(f"{where} has more conditions or actions than the {self.stacks} stacks")
            if any(c not in CONDITIONS for c in r.tops) or any(a not in ACTIONS for a in r.actions):
                raise ValueError(f"{where}: conditions must be in {CONDITIONS}, actions in {ACTIONS}")
            for j in range(self.stacks):
                if self.action(r, j).startswith("replace") and self.top(r, j) not in ("0", "1"):
                    raise ValueError(f"{where}: replace on stack {j} needs the top known ('0' or '1')")
        for state, symbol in itertools.product(self.states, self.alphabet):
            for tops in itertools.product(((), (0,), (1,)), repeat=self.stacks):
                if len(self._matching(state, symbol, tops)) > 1:
                    raise ValueError(f"{self.name} is not deterministic: in {state!r} on {symbol!r} with tops {tops}")

    @staticmethod
    def top(rule: Rule, j: int) -> Condition:
        return rule.tops[j] if j < len(rule.tops) else "any"

    @staticmethod
    def action(rule: Rule, j: int) -> Action:
        return rule.actions[j] if j < len(rule.actions) else "keep"

    def _matching(self, state: str, symbol: str, stacks) -> list[Rule]:
        return [
            r for r in self.rules
            if r.state == state and r.symbol == symbol
            and all(top_matches(self.top(r, j), s) for j, s in enumerate(stacks))
        ]

    def run(self, word: str, stacks: tuple[Stack, ...] | None = None) -> list[Step]:
        """Direct simulation: the configuration after each symbol of ``word``."""
        bad = set(word) - set(self.alphabet)
        if bad:
            raise ValueError(f"symbols {sorted(bad)} are not in the alphabet {self.alphabet!r} of {self.name}")
        state, stacks = self.start, tuple(stacks or ((),) * self.stacks)
        trace = []
        for symbol in word:
            rules = self._matching(state, symbol, stacks)
            emitted = None
            if rules:
                (r,) = rules
                state, emitted = r.next_state, r.emit
                stacks = tuple(apply_action(self.action(r, j), s) for j, s in enumerate(stacks))
            trace.append(Step(state, stacks, emitted))
        return trace

    def accepts(self, word: str) -> bool:
        last = self.run(word)[-1] if word else Step(self.start, ((),) * self.stacks, None)
        return last.state in self.accepting and (not self.accept_on_empty or not any(last.stacks))


@dataclasses.dataclass(frozen=True)
class TuringMachine:
    """A single-tape binary Turing machine, blank = 0.

    Attributes:
      delta: ``(state, read bit) -> (write bit, "L" or "R", next state)``;
        a missing entry halts.
    """

    name: str
    start: str
    delta: dict[tuple[str, int], tuple[int, str, str]]

    def run(self, tape: tuple[int, ...], max_steps: int) -> tuple[str, dict[int, int], int, int]:
        """Direct simulation from the head on ``tape[0]``: ``(state, tape, head, steps taken)``."""
        cells, head, state = dict(enumerate(tape)), 0, self.start
        for steps in range(max_steps):
            key = (state, cells.get(head, 0))
            if key not in self.delta:
                return state, cells, head, steps
            write, move, state = self.delta[key]
            cells[head] = write
            head += 1 if move == "R" else -1
        return state, cells, head, max_steps

    def as_stack_machine(self) -> StackMachine:
        """Stack 0 = tape left of the head (nearest on top); stack 1 = head cell and
        the tape to its right. Input symbol "t" = one tick; a right move takes one
        tick, a left move two (write, then bring the left cell over)."""
        states = sorted({self.start} | {q for q, _ in self.delta} | {q for _, _, q in self.delta.values()})
        rules = []
        for (q, bit), (write, move, nxt) in self.delta.items():
            head = ("1",) if bit else ("0|empty",)
            if move == "R":
                rules.append(Rule(q, "t", nxt, ("any", head[0]), (f"push{write}", "pop")))
                continue
            if bit:
                rules.append(Rule(q, "t", f"{nxt}<", ("any", "1"), ("keep", f"replace{write}")))
            else:
                rules.append(Rule(q, "t", f"{nxt}<", ("any", "0"), ("keep", f"replace{write}")))
                rules.append(Rule(q, "t", f"{nxt}<", ("any", "empty"), ("keep", f"push{write}")))
        for q in {r.next_state for r in rules if r.next_state.endswith("<")}:
            target = q[:-1]
            rules += [
                Rule(q, "t", target, ("1",), ("pop", "push1")),
                Rule(q, "t", target, ("0",), ("pop", "push0")),
                Rule(q, "t", target, ("empty",), ("keep", "push0")),
            ]
        all_states = tuple(sorted(set(states) | {r.next_state for r in rules}))
        return StackMachine(f"{self.name} (two stacks)", all_states, self.start, "t", 2, tuple(rules))


def tape_from_stacks(stacks: tuple[Stack, Stack]) -> tuple[dict[int, int], int]:
    """``(tape, head)`` of a Turing machine's two-stack configuration, head at 0."""
    left, right = stacks
    cells = {-1 - i: b for i, b in enumerate(left)}
    cells.update(enumerate(right))
    return cells, 0
