"""Claims of a paper, checked against an experiment's runs: claim, paper, source, ours, verdict, budget.

An experiment lists its ``Claim``s; ``claims_table(claims, runs)`` measures each
on the finished runs (median and best over the seeds that did not diverge) and
gives a verdict from the numbers alone:

    reproduced     the median seed meets the claim
    partly         the best seed meets it, or the median meets the weaker ``partly`` bound
    not            neither
    did not train  the claim is that an arm fails (to generalise, or before another arm),
                   and no seed of that arm fit its training range (``Claim.fit``): a model
                   that learned nothing is no evidence of a failure
    not run        no finished run of the arm, or of an arm it is compared with (e.g. only
                   some arms were trained)

A claim with a ``fit`` precondition is measured on the seeds that fit their training
range only; when fewer than half of the seeds fit, it is at most "partly".

Every claim carries where the paper's figure is (``source``: section, table or
figure of the paper, or a public file at a tag; "no source" when it has none) and
our training budget relative to the paper's (``budget``: a ``Budget`` computes ours
from the runs, or a stated text). An experiment's deviations from the paper's (or
its public code's) protocol are ``Deviation`` rows, rendered by the report and
appended to the experiment's docstring (``with_deviations``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from rnnjax.eval.tables import alive, lower_is_better, markdown_table, measured

NO_SOURCE = "no source"
NOT_STATED = "not stated"


@dataclasses.dataclass(frozen=True)
class Fit:
    """The precondition of a claim that an arm fails: the arm fit its training range.

    Attributes:
      metric: a per-seed results field measured on the training range (e.g.
        ``correct_within_training``, ``coarse_train``, ``accuracy_train``; higher is better).
      bound: a seed fit its training range when ``metric >= bound``.
      arm: None: the claim's arm must fit (its seeds that did not fit are left out).
        Another arm: a control trained by the same protocol, for a claim that the arm
        cannot learn even its training range (e.g. the 1-layer QRNN at the majority class):
        the claim counts only if some seed of the control fit; the claim's seeds all count.
    """

    metric: str
    bound: float
    arm: str | None = None

    def text(self) -> str:
        return f"{self.arm + ' ' if self.arm else ''}{self.metric} >= {self.bound:.3g}"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Our training budget against the paper's: ours is computed from the runs.

    Attributes:
      paper: the paper's count in ``unit`` (a ``(low, high)`` pair where it gives a range,
        e.g. a minimum and a maximum number of epochs); None where the paper does not state
        it (``paper_how`` says what it does state) and no ratio can be given.
      paper_how: its arithmetic, e.g. ``"1,000-2,000 epochs x 100 words"``.
      unit: ``"examples"`` (updates x batch size) or ``"updates"``.

    Ours per run: the steps it trained (``stopped_at`` when it stopped early, else the
    config's ``steps``), times the batch size for examples; the median over the arm's seeds.
    """

    paper: float | tuple[float, float] | None
    paper_how: str
    unit: str = "examples"

    def __post_init__(self):
        if self.unit not in ("examples", "updates"):
            raise ValueError(f"Budget unit must be 'examples' or 'updates', got {self.unit!r}")

    def ours(self, runs: Sequence) -> float | None:
        """The median over ``runs`` of the examples (or updates) each trained; None when a run
        records no config."""
        counts = []
        for r in runs:
            config = getattr(r, "config", None)
            if config is None or not hasattr(config, "run"):
                return None
            stopped = r.results.get("stopped_at")
            updates = stopped if isinstance(stopped, int) else config.run.steps
            counts.append(updates * (config.run.batch_size if self.unit == "examples" else 1))
        return float(np.median(counts)) if counts else None

    def text(self, runs: Sequence = ()) -> str:
        """``"1/3.4 (ours 29,700 updates ...; paper's 100,000-200,000 = ...)"``; without
        runs (or configs) only the paper's side."""
        ours = self.ours(runs)
        if self.paper is None:
            return (f"no ratio: ours {ours:,.0f} {self.unit}, median over seeds; " if ours is not None else
                    "no ratio: ") + f"paper's not stated ({self.paper_how})"
        low, high = self.paper if isinstance(self.paper, tuple) else (self.paper, self.paper)
        paper = f"{low:,.0f}" if low == high else f"{low:,.0f}-{high:,.0f}"
        theirs = f"paper's {paper} {self.unit} = {self.paper_how}"
        if ours is None:
            return theirs
        ratios = list(dict.fromkeys(_ratio(ours / count) for count in (high, low)))  # smaller first
        return f"{' to '.join(ratios)} (ours {ours:,.0f} {self.unit}, median over seeds; {theirs})"


def _ratio(x: float) -> str:
    """``0.25`` -> ``"1/4"``, ``0.0002`` -> ``"1/5,000"``, ``3`` -> ``"3x"``."""
    if x <= 0:
        return "0"
    if x >= 1:
        return f"{x:.3g}x"
    return f"1/{1 / x:,.0f}" if 1 / x >= 100 else f"1/{1 / x:.3g}"


@dataclasses.dataclass(frozen=True)
class Deviation:
    """One way an experiment's protocol departs from the paper's (or its public code's).

    Attributes:
      setting: what differs (e.g. "reject threshold").
      theirs: the paper's or public code's value, with where it is stated.
      ours: ours.
      why: why we deviate.
      effect: the effect we expect on the numbers.
    """

    setting: str
    theirs: str
    ours: str
    why: str
    effect: str


DEVIATION_COLUMNS = ("setting", "theirs", "ours", "why", "effect")


def deviation_rows(deviations: Sequence[Deviation]) -> list[dict]:
    return [dataclasses.asdict(d) for d in deviations]


def with_deviations(doc: str, deviations: Sequence[Deviation], title: str = "Deviations from the paper") -> str:
    """``doc`` with the deviations table appended (for an experiment module's ``__doc__``;
    the report renders the same rows from ``Experiment.deviations``)."""
    if not deviations:
        return doc
    table = markdown_table(deviation_rows(deviations), DEVIATION_COLUMNS)
    return f"{doc.rstrip()}\n\n{title}:\n\n{table}\n"


@dataclasses.dataclass(frozen=True)
class Claim:
    """Attributes:
      claim: what the paper says, in a few words.
      paper: the paper's figure as it reports it (text, e.g. "n = 256").
      arm: the arm whose seeds are measured; several arms: the best of them (the one whose
        median of ``select`` is best), as papers report the best of several baselines.
      metric: the results field measured per seed.
      target: the value the claim needs; ``higher`` says on which side.
      partly: the weaker bound a median must meet for "partly" (None: only the best seed counts).
      higher: the claim needs ``value >= target`` (else ``value <= target``).
      versus: another arm (or arms) whose median the claim also needs to beat (same metric
        and direction; e.g. "the LSTM counts further than the GRU").
      command: the command that trains the runs.
      source: where the paper's figure is: section, table or figure of the paper, or a
        public file at a tag ("" renders "no source").
      budget: our training budget relative to the paper's (a ``Budget``, computed from the
        runs, or a stated text; "" renders "not stated").
      fit: the precondition of a claim that ``arm`` fails: only its seeds that fit their
        training range count; none fit: "did not train".
      within: the claim is the paper's value itself: it needs ``|value - target| <= within``
        (``higher`` is ignored; ``partly`` is then a wider tolerance).
      select: the results field that picks the best of several ``arm``s (default ``metric``;
        higher is better unless it is a loss, ``rnnjax.eval.tables.lower_is_better``).
    """

    claim: str
    paper: str
    arm: str | tuple[str, ...]
    metric: str
    target: float
    partly: float | None = None
    higher: bool = True
    versus: str | tuple[str, ...] | None = None
    command: str = ""
    source: str = ""
    budget: Budget | str = ""
    fit: Fit | None = None
    within: float | None = None
    select: str | None = None

    @property
    def arms(self) -> tuple[str, ...]:
        return (self.arm,) if isinstance(self.arm, str) else tuple(self.arm)

    @property
    def rivals(self) -> tuple[str, ...]:
        if self.versus is None:
            return ()
        return (self.versus,) if isinstance(self.versus, str) else tuple(self.versus)

    def __post_init__(self):
        if self.within is not None and self.versus is not None:
            raise ValueError(f"claim {self.claim!r}: a claim of the paper's value (within) has no rival (versus)")

    def meets(self, value: float, weak: bool = False) -> bool:
        """``value`` meets the target (``weak``: the ``partly`` bound): on the claim's side of
        it, or, for a claim of the paper's value, within ``within`` (``weak``: ``partly``)
        of the target."""
        if self.within is not None:
            return abs(value - self.target) <= (self.partly if weak else self.within)
        bound = self.partly if weak else self.target
        return value >= bound if self.higher else value <= bound

    def beats(self, value: float, rival: float) -> bool:
        """``value`` strictly better than a rival arm's median in the claim's direction."""
        return value > rival if self.higher else value < rival

    def best(self, values: Sequence[float]) -> float:
        if self.within is not None:
            return min(values, key=lambda v: abs(v - self.target))
        return max(values) if self.higher else min(values)


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) else default


def arm_runs(runs: Sequence, arm: str) -> list:
    """The non-diverged runs of ``arm``."""
    return [r for r in runs if r.results.get("arm") == arm and alive(r)]


def seed_values(runs: Sequence, arm: str, metric: str) -> list[float]:
    """``metric`` of every non-diverged run of ``arm``."""
    return measured(arm_runs(runs, arm), metric)


def chosen_arm(claim: Claim, runs: Sequence) -> str | None:
    """The claim's arm; of several, the trained one whose median of ``select`` is best."""
    select = claim.select or claim.metric
    trained = [(arm, seed_values(runs, arm, select)) for arm in claim.arms]
    trained = [(arm, values) for arm, values in trained if values]
    if not trained:
        return None
    sign = -1 if lower_is_better(select) else 1
    return max(trained, key=lambda item: sign * float(np.median(item[1])))[0]


def verdict(claim: Claim, runs: Sequence) -> dict:
    """One row: the claim, the paper's figure and its source, ours (median, best, seeds),
    the verdict, our budget against the paper's, and the command."""
    arm = chosen_arm(claim, runs)
    row = {"claim": claim.claim, "paper": claim.paper, "source": claim.source or NO_SOURCE, "arm": arm or claim.arms[0],
           "metric": claim.metric, "command": claim.command}
    members = arm_runs(runs, arm) if arm else []
    row["budget"] = (claim.budget.text(members) if isinstance(claim.budget, Budget) else claim.budget) or NOT_STATED
    values = measured(members, claim.metric)
    if not values:  # no run of the arm, or none measured the metric (e.g. other test lengths)
        return row | {"ours": "", "verdict": "not run"}
    notes = [f"{arm} of {', '.join(claim.arms)}"] if len(claim.arms) > 1 else []
    capped = False
    if claim.fit is not None:
        control = claim.fit.arm not in (None, arm)  # another arm, trained by the same protocol, must have fit
        checked = arm_runs(runs, claim.fit.arm) if control else [
            r for r in members if isinstance(r.results.get(claim.metric), (int, float))]
        fitted = [r for r in checked if _number(r.results.get(claim.fit.metric), -np.inf) >= claim.fit.bound]
        fits = measured(checked, claim.fit.metric)
        notes.append((f"control: {len(fitted)} of {len(checked)} seeds of {claim.fit.text()}" if control else
                      f"{len(fitted)} of {len(checked)} seeds fit the training range ({claim.fit.text()}"
                      + (f"; median {np.median(fits):.4g})" if fits else ")")))
        if not fitted:
            return row | {"ours": f"median {np.median(values):.4g} ({len(values)} seeds; {'; '.join(notes)})",
                          "verdict": "did not train"}
        if not control:  # only the seeds that fit are evidence; the median seed must be one of them
            values = measured(fitted, claim.metric)
            capped = 2 * len(fitted) < len(checked)
    median, best = float(np.median(values)), claim.best(values)
    rivals = {rival: seed_values(runs, rival, claim.metric) for rival in claim.rivals}
    if not all(rivals.values()):  # a comparison with an arm not trained here cannot be made
        return row | {"ours": "", "verdict": "not run"}
    rival_medians = [float(np.median(v)) for v in rivals.values()]

    def holds(value: float, weak: bool = False) -> bool:  # meets the bound and beats every rival's median
        return claim.meets(value, weak) and all(claim.beats(value, m) for m in rival_medians)

    if holds(median) and not capped:
        outcome = "reproduced"
    elif holds(median) or holds(best) or (claim.partly is not None and holds(median, weak=True)):
        outcome = "partly"
    else:
        outcome = "not"
    notes += [f"{rival} median {np.median(v):.4g}" for rival, v in rivals.items()]
    seeds = f"{len(values)} seeds" + "".join(f"; {n}" for n in notes)
    return row | {"ours": f"median {median:.4g}, best {best:.4g} ({seeds})", "verdict": outcome}


COLUMNS = ("claim", "paper", "source", "ours", "verdict", "budget", "command")
VERDICTS = ("reproduced", "partly", "not", "did not train", "not run")


def claims_table(claims: Sequence[Claim], runs: Sequence) -> str:
    """The markdown table of ``claims`` on ``runs``."""
    return markdown_table([verdict(c, runs) for c in claims], COLUMNS)


def provenance(claims: Sequence[Claim], runs: Sequence = ()) -> str:
    """A note for the compact table: the distinct sources of the claims' figures and our
    budgets against the paper's ("" without claims)."""
    if not claims:
        return ""
    rows = [verdict(c, runs) for c in claims]
    sources = list(dict.fromkeys(r["source"] for r in rows))
    arms: dict[str, list[str]] = {}  # budget -> the arms with it
    for r in rows:
        arms.setdefault(r["budget"], [])
        if r["arm"] not in arms[r["budget"]]:
            arms[r["budget"]].append(r["arm"])
    budgets = [f"{', '.join(names)}: {budget}" for budget, names in arms.items()]
    return "Paper's figures from: " + "; ".join(sources) + ".\nBudget (ours / paper's): " + "; ".join(budgets) + "."
