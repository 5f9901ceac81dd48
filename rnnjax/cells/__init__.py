"""Recurrent cells as pure functions (see ``rnnjax.cells.base`` for the protocol), and their registry.

``CELLS`` maps names to builders ``(hidden, **options) -> Cell``; a new cell is a
file with its builder plus one ``CELLS.register`` line.
"""

from rnnjax.cells.base import Cell, default_hoist, layers, scan, trace
from rnnjax.cells.elman import elman, saturated_linear
from rnnjax.cells.gru import gru
from rnnjax.cells.lstm import doubling_lstm, lstm
from rnnjax.cells.qrnn import qrnn
from rnnjax.cells.saturation import saturate
from rnnjax.registry import Registry as _Registry

CELLS: _Registry[Cell] = _Registry("cell")
CELLS.register("elman", elman)
CELLS.register("lstm", lstm)
CELLS.register("gru", gru)
CELLS.register("qrnn", qrnn)
CELLS.register("doubling_lstm", doubling_lstm)

__all__ = [
    "CELLS",
    "Cell",
    "default_hoist",
    "doubling_lstm",
    "elman",
    "gru",
    "layers",
    "lstm",
    "qrnn",
    "saturate",
    "saturated_linear",
    "scan",
    "trace",
]


def __getattr__(name: str):
    if name == "stack":
        raise AttributeError("rnnjax.cells.stack is now rnnjax.cells.layers (rnnjax.memory.stack is the neural stack)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
