"""rnnjax: recurrent networks on formal languages, as pure JAX functions."""

from rnnjax import cells, memory
from rnnjax.cells import Cell, layers, scan, trace

__all__ = ["Cell", "cells", "layers", "memory", "scan", "trace"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "stack":
        raise AttributeError("rnnjax.stack is now rnnjax.layers (rnnjax.memory.stack is the neural stack)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
