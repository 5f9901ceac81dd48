"""Claims of a paper, checked against an experiment's runs: claim, paper, ours, verdict.

An experiment lists its ``Claim``s; ``claims_table(claims, runs)`` measures each
on the finished runs (median and best over the seeds that did not diverge) and
gives a verdict from the numbers alone:

    reproduced   the median seed meets the claim
    partly       the best seed meets it, or the median meets the weaker ``partly`` bound
    not          neither
    not run      no finished run of the arm (e.g. only some arms were trained)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from rnnjax.eval.tables import alive, markdown_table, measured


@dataclasses.dataclass(frozen=True)
class Claim:
    """Attributes:
      claim: what the paper says, in a few words.
      paper: the paper's figure as it reports it (text, e.g. "n = 256").
      arm: the arm whose seeds are measured.
      metric: the results field measured per seed.
      target: the value the claim needs; ``higher`` says on which side.
      partly: the weaker bound a median must meet for "partly" (None: only the best seed counts).
      higher: the claim needs ``value >= target`` (else ``value <= target``).
      versus: another arm whose median the claim also needs to beat (same metric and
        direction; e.g. "the LSTM counts further than the GRU").
      command: the command that trains the runs.
    """

    claim: str
    paper: str
    arm: str
    metric: str
    target: float
    partly: float | None = None
    higher: bool = True
    versus: str | None = None
    command: str = ""

    def meets(self, value: float, bound: float) -> bool:
        return value >= bound if self.higher else value <= bound


def seed_values(runs: Sequence, arm: str, metric: str) -> list[float]:
    """``metric`` of every non-diverged run of ``arm``."""
    return measured([r for r in runs if r.results.get("arm") == arm and alive(r)], metric)


def verdict(claim: Claim, runs: Sequence) -> dict:
    """One row: the claim, the paper's figure, ours (median, best, seeds) and the verdict."""
    values = seed_values(runs, claim.arm, claim.metric)
    row = {"claim": claim.claim, "paper": claim.paper, "arm": claim.arm, "metric": claim.metric,
           "command": claim.command}
    if not values:
        return row | {"ours": "", "verdict": "not run"}
    median, best = float(np.median(values)), (max(values) if claim.higher else min(values))
    rival = seed_values(runs, claim.versus, claim.metric) if claim.versus else []

    def holds(value: float, bound: float) -> bool:  # meets the bound and, if there is a rival, beats its median
        return claim.meets(value, bound) and (not rival or (claim.meets(value, np.median(rival))
                                                             and value != np.median(rival)))

    if holds(median, claim.target):
        outcome = "reproduced"
    elif holds(best, claim.target) or (claim.partly is not None and holds(median, claim.partly)):
        outcome = "partly"
    else:
        outcome = "not"
    against = f"; {claim.versus} median {np.median(rival):.4g}" if rival else ""
    return row | {"ours": f"median {median:.4g}, best {best:.4g} ({len(values)} seeds{against})", "verdict": outcome}


COLUMNS = ("claim", "paper", "ours", "verdict", "command")


def claims_table(claims: Sequence[Claim], runs: Sequence) -> str:
    """The markdown table of ``claims`` on ``runs``."""
    return markdown_table([verdict(c, runs) for c in claims], COLUMNS)

