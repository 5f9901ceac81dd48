"""Formal languages and transductions: samplers, oracles, targets, metrics."""

from rnnjax.tasks.base import Language, accepts, next_symbol_accuracy, prediction_example
from rnnjax.tasks.counting import anbn, anbn_sigma_star, anbncn

LANGUAGES = {"anbn": anbn, "anbncn": anbncn, "anbn_sigma_star": anbn_sigma_star}

__all__ = [
    "LANGUAGES",
    "Language",
    "accepts",
    "anbn",
    "anbn_sigma_star",
    "anbncn",
    "next_symbol_accuracy",
    "prediction_example",
]
