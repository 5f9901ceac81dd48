"""Tasks: formal languages and transductions in one protocol (``Task``), and their registry.

A task is a definition (a Language, a TaggingTask, a Transduction, a grammar, a
TapeTask, a ClassTask) put into an output format (``prediction``, ``tagging``,
``transduction``, ``language_model``, ``output_tape``, ``final_class``); the
fifteen tasks of the Chomsky-hierarchy benchmark are in ``tasks.chomsky``, the
Neural Turing Machine tasks in ``tasks.ntm``.
``TASKS`` maps names to builders ``(n_min, n_max, eval_n_max, **options) -> Task``;
a new task is a file with its definition plus one ``TASKS.register`` line.
"""

from functools import partial

from rnnjax.automata import languages
from rnnjax.registry import Registry
from rnnjax.tasks.base import EvalSet, Evaluation, Example, Predictor, Task, formatted
from rnnjax.tasks.cfl import GRAMMARS, language_model
from rnnjax.tasks.chomsky import LEVELS
from rnnjax.tasks.counting import anbn, anbn_sigma_star, anbncn
from rnnjax.tasks.final_class import ClassTask, final_class
from rnnjax.tasks.language import Language
from rnnjax.tasks.ntm import NTM
from rnnjax.tasks.output_tape import TapeTask, output_tape, through_first
from rnnjax.tasks.prediction import accepts, next_symbol_accuracy, prediction, prediction_example
from rnnjax.tasks.regular import dfa_prefix_task
from rnnjax.tasks.reversal import marked_reversal
from rnnjax.tasks.tagging import TaggingTask, anbn_sigma_star_prefixes, anbnw_prefixes, tagging
from rnnjax.tasks.transduction import (
    Transduction,
    bigram_flip,
    copy,
    gender_conjugation,
    reversal,
    svo_sov,
    target_mask,
    transduction,
)

TASKS: Registry[Task] = Registry("task")

for _name, _language in {"anbn": anbn, "anbncn": anbncn, "anbn_sigma_star": anbn_sigma_star,
                         "marked_reversal": marked_reversal}.items():
    TASKS.register(_name, formatted(prediction, _language))
TASKS.register("anbn_sigma_star_prefixes", formatted(tagging, anbn_sigma_star_prefixes))
TASKS.register("anbnw_prefixes", formatted(tagging, anbnw_prefixes))


def _tomita(k: int) -> TaggingTask:
    return dfa_prefix_task(f"tomita{k}", languages.tomita(k))


for _k in range(1, 8):
    TASKS.register(f"tomita{_k}", formatted(tagging, partial(_tomita, _k)), doc=f"prefix tagging of Tomita {_k}")


def _balanced_parentheses(max_depth: int = 4) -> TaggingTask:
    """Prefix tagging of balanced parentheses of nesting depth at most ``max_depth``."""
    return dfa_prefix_task("balanced_parentheses", languages.balanced_parentheses(max_depth))


TASKS.register("balanced_parentheses", formatted(tagging, _balanced_parentheses))
for _name, _transduction in {"copy": copy, "reversal": reversal, "bigram_flip": bigram_flip, "svo_sov": svo_sov,
                             "gender_conjugation": gender_conjugation}.items():
    TASKS.register(_name, formatted(transduction, _transduction))
for _grammar in GRAMMARS:
    TASKS.register(f"cfl_{_grammar}", partial(language_model, _grammar),
                   doc=f"language modelling of the {_grammar} PCFG, scored by cross-entropy difference")
for _level in LEVELS.values():
    for _name, _definition in _level.items():
        TASKS.register(_name, formatted(output_tape, _definition))
for _name, _definition in NTM.items():
    TASKS.register(_name, formatted(output_tape, _definition))

__all__ = [
    "TASKS",
    "ClassTask",
    "EvalSet",
    "Evaluation",
    "Example",
    "Language",
    "Predictor",
    "TaggingTask",
    "TapeTask",
    "Task",
    "Transduction",
    "accepts",
    "anbn",
    "anbn_sigma_star",
    "anbn_sigma_star_prefixes",
    "anbnw_prefixes",
    "anbncn",
    "dfa_prefix_task",
    "final_class",
    "formatted",
    "smallest_n",
    "language_model",
    "marked_reversal",
    "next_symbol_accuracy",
    "output_tape",
    "prediction",
    "prediction_example",
    "tagging",
    "target_mask",
    "through_first",
    "transduction",
]


def smallest_n(name: str, options: dict | None = None) -> int:
    """The smallest training n that task ``name`` takes with ``options`` (1 unless its builder says)."""
    build = TASKS[name].build
    return build.smallest_n(**(options or {})) if hasattr(build, "smallest_n") else 1
