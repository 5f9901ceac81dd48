"""Reading what earlier releases wrote."""

from __future__ import annotations

__all__ = ["MEMORY_RENAMES", "NO_MEMORY", "memory_name", "v1_fields"]

NO_MEMORY = "none"

MEMORY_RENAMES = {
    "superposition": "superposition_stack",
    "rns": "nondeterministic_stack",
    "ns": "normalised_nondeterministic_stack",
    "vrns": "vector_nondeterministic_stack",
}
"""Registry names of memories before they became their builders' Python names (issue 33)."""


def memory_name(name: str) -> str:
    """The registry name of a memory, given the name an earlier release wrote."""
    return MEMORY_RENAMES.get(name, name)


def v1_fields(fields: dict) -> tuple[dict, dict]:
    """A flat config of the releases before the task protocol (version 1) as
    ``(entry names, other flat fields)``: ``objective`` is implied by the task
    (tagging ``anbn_sigma_star`` is now ``anbn_sigma_star_prefixes``, trained on
    strings of ``train_length``), attention is a model, not a memory, and a stack
    window of 0 is None; memories have their current names
    (``MEMORY_RENAMES``). Fields that do not apply to the run's entries are to be
    dropped (``TrainConfig.replace(strict=False)``)."""
    f = dict(fields)
    objective, train_length = f.pop("objective", "prediction"), f.pop("train_length", None)
    memory = memory_name(f.pop("memory", NO_MEMORY))
    names = {"task": f.pop("task"), "cell": f.pop("cell"), "memory": memory, "model": "sequence"}
    if objective == "tagging":
        names["task"] = {"anbn_sigma_star": "anbn_sigma_star_prefixes"}.get(names["task"], names["task"])
        f["n_min"] = f["n_max"] = train_length
    if names["memory"] == "attention":
        names["memory"], names["model"] = NO_MEMORY, "attention"
    if f.get("stack_window") == 0:
        f["stack_window"] = None
    return names, {k: tuple(v) if isinstance(v, list) else v for k, v in f.items()}
