"""Differentiable memories as pure functions, and the controller that attaches them to a Cell."""

from rnnjax.memory.attention import attend, attentive, init_attention
from rnnjax.memory.base import Memory
from rnnjax.memory.controller import augment, controller_actions
from rnnjax.memory.nondeterministic import nondeterministic_stack
from rnnjax.memory.stratified import deque, queue, stack
from rnnjax.memory.superposition import superposition_stack
from rnnjax.memory.tape import tape

__all__ = ["Memory", "attend", "attentive", "augment", "controller_actions", "init_attention", "deque", "nondeterministic_stack", "queue", "stack",
           "superposition_stack", "tape"]
