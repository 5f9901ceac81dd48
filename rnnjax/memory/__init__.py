"""Differentiable memories as pure functions, the controller that attaches them to a Cell, and their registry.

``MEMORIES`` maps names to builders ``(**options) -> Memory``; a new memory is a
file with its builder plus one ``MEMORIES.register`` line.
"""

from rnnjax.memory.attention import attend, attentive, init_attention
from rnnjax.memory.base import Memory
from rnnjax.memory.controller import augment, controller_actions
from rnnjax.memory.nondeterministic import (
    nondeterministic_stack,
    normalised_nondeterministic_stack,
    vector_nondeterministic_stack,
)
from rnnjax.memory.ntm import ntm
from rnnjax.memory.reinforce import reinforce_loss, sampled_batch_loss
from rnnjax.memory.stratified import deque, queue, stack
from rnnjax.memory.superposition import superposition_stack
from rnnjax.memory.tape import tape
from rnnjax.registry import Registry as _Registry

MEMORIES: _Registry[Memory] = _Registry("memory")
for _name, _build in {"stack": stack, "queue": queue}.items():
    MEMORIES.register(_name, _build, options={"memory_width": "width"})
MEMORIES.register("deque", deque, options={"memory_width": "width", "deque_start": "start"})
MEMORIES.register("superposition_stack", superposition_stack, options={
    "memory_width": "width", "stack_depth": "depth", "stack_read_top": "read_top", "stack_empty": "empty",
    "stack_push": "push"})
MEMORIES.register("tape", tape, options={"memory_width": "width", "tape_write": "write", "tape_jumps": "jumps"})
_STACK_OPTIONS = {"stack_states": "states", "stack_symbols": "symbols", "stack_window": "window"}
MEMORIES.register("nondeterministic_stack", nondeterministic_stack, options=_STACK_OPTIONS,
                  doc="renormalising nondeterministic stack (DuSell & Chiang 2022)")
MEMORIES.register("normalised_nondeterministic_stack", normalised_nondeterministic_stack, options=_STACK_OPTIONS,
                  doc="nondeterministic stack (DuSell & Chiang 2020)")
MEMORIES.register("vector_nondeterministic_stack", vector_nondeterministic_stack,
                  options=_STACK_OPTIONS | {"memory_width": "vector_width"},
                  doc="vector nondeterministic stack (DuSell & Chiang 2023)")
MEMORIES.register("ntm", ntm, options={
    "ntm_slots": "slots", "memory_width": "width", "ntm_read_heads": "read_heads", "ntm_write_heads": "write_heads",
    "ntm_addressing": "addressing"}, doc="Neural Turing Machine (Graves et al. 2014); ntm_addressing hard: "
    "one sampled slot per head, REINFORCE")

__all__ = ["MEMORIES", "Memory", "attend", "attentive", "augment", "controller_actions", "deque", "init_attention",
           "nondeterministic_stack", "normalised_nondeterministic_stack", "ntm", "queue", "reinforce_loss",
           "sampled_batch_loss", "stack", "superposition_stack", "tape", "vector_nondeterministic_stack"]
