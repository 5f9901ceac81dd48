"""Evaluation: every task's generalisation tests run the same way; reports; plots."""

from rnnjax.eval.generalisation import chunk_size, evaluate, num_members, score_set

__all__ = ["chunk_size", "evaluate", "num_members", "score_set"]
