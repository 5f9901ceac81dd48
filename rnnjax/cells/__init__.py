"""Recurrent cells as pure functions (see ``rnnjax.cells.base`` for the protocol)."""

from rnnjax.cells.base import Cell, default_hoist, scan, stack, trace
from rnnjax.cells.elman import elman, saturated_linear
from rnnjax.cells.gru import gru
from rnnjax.cells.lstm import doubling_lstm, lstm
from rnnjax.cells.qrnn import qrnn
from rnnjax.cells.saturation import saturate

__all__ = [
    "Cell",
    "default_hoist",
    "doubling_lstm",
    "elman",
    "gru",
    "lstm",
    "qrnn",
    "saturate",
    "saturated_linear",
    "scan",
    "stack",
    "trace",
]
