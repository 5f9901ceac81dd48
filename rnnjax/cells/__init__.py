"""Recurrent cells as pure functions (see ``rnnjax.cells.base`` for the protocol)."""

from rnnjax.cells.base import Cell, default_hoist, scan, stack, trace
from rnnjax.cells.elman import elman, saturated_linear
from rnnjax.cells.gru import gru
from rnnjax.cells.lstm import lstm

__all__ = ["Cell", "default_hoist", "elman", "gru", "lstm", "saturated_linear", "scan", "stack", "trace"]
