"""Theory made runnable: stack machines compiled into saturated-linear RNNs (Siegelmann & Sontag)."""

from rnnjax.theory import machines
from rnnjax.theory.siegelmann_sontag import CompiledMachine, compile_machine, decode_stack, encode_stack
from rnnjax.theory.stack_machine import Rule, StackMachine, TuringMachine

__all__ = [
    "CompiledMachine",
    "Rule",
    "StackMachine",
    "TuringMachine",
    "compile_machine",
    "decode_stack",
    "encode_stack",
    "machines",
]
