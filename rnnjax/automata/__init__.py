"""Automata: a DFA type, reference regular languages, and extraction of DFAs from trained RNNs."""

from rnnjax.automata.dfa import DFA
from rnnjax.automata.languages import REFERENCE_LANGUAGES, balanced_parentheses, tomita, words

__all__ = ["DFA", "REFERENCE_LANGUAGES", "balanced_parentheses", "tomita", "words"]
