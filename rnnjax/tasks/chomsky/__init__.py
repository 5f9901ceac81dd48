"""The fifteen tasks of "Neural Networks and the Chomsky Hierarchy" (Delétang et al., ICLR 2023),
as output-tape definitions (``rnnjax.tasks.output_tape``) with the published encodings."""

from rnnjax.tasks.chomsky.cs import CS
from rnnjax.tasks.chomsky.dcf import DCF
from rnnjax.tasks.chomsky.regular import REGULAR

LEVELS = {"regular": REGULAR, "dcf": DCF, "cs": CS}
"""Chomsky level -> task name -> definition builder"""
