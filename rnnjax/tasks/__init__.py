"""Formal languages and transductions: samplers, oracles, targets, metrics."""

from rnnjax.tasks.base import Language, accepts, next_symbol_accuracy, prediction_example
from rnnjax.tasks.counting import anbn, anbn_sigma_star, anbncn
from rnnjax.tasks.reversal import marked_reversal
from rnnjax.tasks.tagging import TAGGING_TASKS, TaggingTask, anbn_sigma_star_prefixes
from rnnjax.tasks.regular import REGULAR_TASKS, dfa_prefix_task
from rnnjax.tasks.transduction import TRANSDUCTIONS, Transduction, target_mask

TAGGING_TASKS.update(REGULAR_TASKS)

LANGUAGES = {
    "anbn": anbn,
    "anbncn": anbncn,
    "anbn_sigma_star": anbn_sigma_star,
    "marked_reversal": marked_reversal,
}

__all__ = [
    "LANGUAGES",
    "TAGGING_TASKS",
    "TRANSDUCTIONS",
    "Language",
    "TaggingTask",
    "Transduction",
    "accepts",
    "anbn",
    "anbn_sigma_star",
    "anbn_sigma_star_prefixes",
    "anbncn",
    "dfa_prefix_task",
    "marked_reversal",
    "next_symbol_accuracy",
    "prediction_example",
    "target_mask",
]
