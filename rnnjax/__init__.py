"""rnnjax: recurrent networks on formal languages, as pure JAX functions."""

from rnnjax import cells, memory
from rnnjax.cells import Cell, scan, stack, trace

__all__ = ["Cell", "cells", "memory", "scan", "stack", "trace"]
__version__ = "0.1.0"
