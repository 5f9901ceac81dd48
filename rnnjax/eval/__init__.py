"""Evaluation: length generalisation, reports, plots."""

from rnnjax.eval.generalisation import (
    CountingResult,
    acceptance,
    counting_generalisation,
    cross_entropy_difference,
    transduction_accuracy,
)

__all__ = [
    "CountingResult",
    "acceptance",
    "counting_generalisation",
    "cross_entropy_difference",
    "transduction_accuracy",
]
