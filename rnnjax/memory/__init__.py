"""Differentiable memories as pure functions, and the controller that attaches them to a Cell."""

from rnnjax.memory.base import Memory
from rnnjax.memory.controller import augment
from rnnjax.memory.stratified import deque, queue, stack
from rnnjax.memory.superposition import superposition_stack
from rnnjax.memory.tape import tape

__all__ = ["Memory", "augment", "deque", "queue", "stack", "superposition_stack", "tape"]
