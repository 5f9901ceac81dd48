"""Claims tables: verdicts from the numbers, and the table in the experiment report."""

import textwrap
from types import SimpleNamespace

import pytest

from rnnjax.cli import main
from rnnjax.eval.claims import Budget, Claim, Deviation, Fit, claims_table, provenance, verdict, with_deviations
from rnnjax.train.experiment import load_experiment


def runs(arm: str, *values, metric="score", diverged=(), fit=None, steps=None, batch=None, stopped=()):
    """Fake runs of ``arm``: one per value; ``fit``: the training metric ``fit`` of each seed;
    ``steps``/``batch``: a config to compute budgets from; ``stopped``: early stops per seed."""
    out = []
    for i, v in enumerate(values):
        results = {"arm": arm, metric: v, "diverged_at": 5 if i in diverged else None}
        if fit is not None:
            results["fit"] = fit[i]
        if i < len(stopped) and stopped[i] is not None:
            results["stopped_at"] = stopped[i]
        config = SimpleNamespace(run=SimpleNamespace(steps=steps, batch_size=batch)) if steps else None
        out.append(SimpleNamespace(results=results, config=config))
    return out


@pytest.mark.parametrize("values, expected", [
    ((300, 260, 10), "reproduced"),   # median 260 >= 256
    ((300, 120, 10), "partly"),       # the best seed meets it
    ((150, 120, 110), "partly"),      # the median meets the weaker bound (100)
    ((90, 50, 0), "not"),
])
def test_verdicts_follow_median_best_and_the_weaker_bound(values, expected):
    claim = Claim("counts far", "n = 256", "lstm", "score", 256, partly=100)
    assert verdict(claim, runs("lstm", *values))["verdict"] == expected


def test_lower_is_better_claims_and_diverged_seeds_do_not_count():
    claim = Claim("close to the bound", "0.05", "rns", "score", 0.05, partly=0.1, higher=False)
    assert verdict(claim, runs("rns", 0.04, 0.03, 0.5))["verdict"] == "reproduced"
    assert verdict(claim, runs("rns", 0.04, 0.3, 0.5))["verdict"] == "partly"
    row = verdict(claim, runs("rns", 0.04, 0.3, 0.5, diverged=(0,)))
    assert row["verdict"] == "not" and "2 seeds" in row["ours"]
    assert verdict(claim, runs("lstm", 0.01))["verdict"] == "not run"


def test_a_claim_against_another_arm_needs_its_median_beaten():
    claim = Claim("GRU fails before the LSTM", "n = 39", "gru", "score", 99, higher=False, versus="lstm")
    assert verdict(claim, runs("gru", 0, 1, 2) + runs("lstm", 100, 140, 120))["verdict"] == "reproduced"
    assert verdict(claim, runs("gru", 50, 60, 30) + runs("lstm", 10, 20, 40))["verdict"] == "not"
    assert verdict(claim, runs("gru", 0, 0, 0) + runs("lstm", 0, 0, 0))["verdict"] == "not", "a tie is not a win"
    table = claims_table([claim], runs("gru", 0) + runs("lstm", 5))
    assert table.splitlines()[0] == "| claim | paper | source | ours | verdict | budget | command |"
    assert "lstm median 5" in table


@pytest.mark.parametrize("name", ["counting", "counting_paper", "qrnn_vs_lstm", "transduction", "cfl", "ntm"])
def test_the_experiments_claims_name_their_arms_a_source_a_budget_and_the_deviations(name):
    experiment = load_experiment(name)
    assert experiment.claims and experiment.deviations, name
    for claim in experiment.claims:
        named = claim.arms + claim.rivals + ((claim.fit.arm,) if claim.fit and claim.fit.arm else ())
        assert set(named) <= set(experiment.arms), (claim.claim, named)
        assert claim.command.startswith("rnnjax train --experiment " + name)
        assert claim.source and claim.budget, f"{claim.claim}: every figure has its source and our budget"
    assert "Deviations from" in load_module_doc(name) and experiment.deviations[0].setting in load_module_doc(name)
    assert "Deviations from" not in experiment.description, "the report renders the rows; the page shows them once"


def load_module_doc(name: str) -> str:
    """The experiment file's module docstring (with the deviations table appended)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"doc_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.__doc__


def test_the_counting_gru_that_learned_nothing_does_not_reproduce_its_failure():
    """The main job's claims on runs like its own: every LSTM right on all training n, every GRU on none."""
    experiment = load_experiment("counting")
    trained = []
    for arm, largest, within in (("lstm_anbn", (149, 145, 174), 1.0), ("gru_anbn", (0, 0, 0), 0.0),
                                 ("lstm_anbncn", (140, 114, 193), 1.0), ("gru_anbncn", (0, 0, 0), 0.0)):
        for value in largest:
            trained += runs(arm, value, metric="largest_correct_n")
            trained[-1].results["correct_within_training"] = within
    rows = {row["claim"]: row for row in (verdict(c, trained) for c in experiment.claims)}
    assert rows["GRU fails on a^n b^n long before the LSTM"]["verdict"] == "did not train"
    assert rows["LSTM recognises a^n b^n c^n past the training range (n < 50)"]["verdict"] == "reproduced"
    assert all(row["source"].startswith("Weiss, Goldberg & Yahav 2018 (ACL") for row in rows.values())


def test_report_prints_the_claims_of_the_experiment(tmp_path, capsys):
    path = tmp_path / "claimed.py"
    path.write_text(textwrap.dedent("""
        from rnnjax.eval.claims import Claim
        from rnnjax.train import TrainConfig
        from rnnjax.train.experiment import Experiment

        BASE = TrainConfig.of(hidden=4, embedding_dim=2, n_max=6, steps=10, batch_size=8, num_buckets=1,
                              eval_n_max=8, log_every=5)
        EXPERIMENT = Experiment("claimed", {"lstm": BASE, "gru": BASE.replace(cell="gru")}, seeds=(0,), claims=(
            Claim("trains to a finite loss", "-", "lstm", "final_loss", 1e9, higher=False, command="rnnjax train"),
            Claim("counts to 1000", "n = 1000", "lstm", "largest_correct_n", 1000, command="rnnjax train"),
            Claim("the GRU counts", "n = 1000", "gru", "largest_correct_n", 1000, command="rnnjax train"),))
    """))
    main(["train", "--experiment", str(path), "--arms", "lstm", "--out", str(tmp_path / "out"), "--no-progress"])
    printed = capsys.readouterr().out
    assert "Claims (1 of arms not trained here left out)" in printed
    assert "| trains to a finite loss | - | no source | median" in printed
    assert "the GRU counts" not in printed, "a claim of an arm that was not trained is left out"
    asked = f"rnnjax train --experiment {path} --arms lstm --no-progress"  # the command that trained the runs
    assert (tmp_path / "out" / "claimed" / "command.txt").read_text() == asked + "\n"
    assert printed.count(f"| {asked} |") == 2 and "| rnnjax train |" not in printed
    main(["report", str(tmp_path / "out" / "claimed"), "--experiment", str(path)])
    again = capsys.readouterr().out
    lines = [line for line in again.splitlines() if line.startswith("| counts to 1000")]
    assert len(lines) == 1 and "| not |" in lines[0]
    assert (tmp_path / "out" / "claimed" / "claims.md").read_text().count("\n") == 4


def test_a_failing_arm_that_fit_none_of_its_training_range_did_not_train():
    """The GRU "fails long before the LSTM" only if it learned its training range: a GRU
    right on none of its training n is no evidence, whatever its largest correct n."""
    fails = Claim("GRU fails on a^n b^n long before the LSTM", "fails from n = 39", "gru", "score", 99, higher=False,
                  versus="lstm", fit=Fit("fit", 0.3))
    generalises_not = Claim("GRU does not generalise", "n = 39", "gru", "score", 99, higher=False,
                            fit=Fit("fit", 0.3))
    learned_nothing = runs("gru", 0, 0, 0, fit=[0.0, 0.0, 0.0]) + runs("lstm", 149, 145, 174)
    for claim in (fails, generalises_not):
        row = verdict(claim, learned_nothing)
        assert row["verdict"] == "did not train", row
        assert "0 of 3 seeds fit the training range (fit >= 0.3" in row["ours"]
    table = claims_table([fails, generalises_not], learned_nothing)
    assert table.count("| did not train |") == 2 and "reproduced" not in table and "partly" not in table
    # the same failure by a GRU that fit its training range is evidence
    learned = runs("gru", 38, 40, 20, fit=[0.38, 0.4, 0.2]) + runs("lstm", 149, 145, 174)
    row = verdict(fails, learned)
    assert row["verdict"] == "reproduced" and "2 of 3 seeds fit" in row["ours"] and "median 39," in row["ours"]
    # only a minority fit: at most partly, measured on the seeds that fit
    one = verdict(fails, runs("gru", 0, 0, 38, fit=[0.0, 0.1, 0.38]) + runs("lstm", 149, 145, 174))
    assert one["verdict"] == "partly" and "1 of 3 seeds fit" in one["ours"]
    # a fitted GRU that generalises as far as the LSTM does not reproduce the claim
    assert verdict(fails, runs("gru", 200, 200, 200, fit=[1, 1, 1]) + runs("lstm", 149, 145, 174))["verdict"] == "not"


def test_a_claim_of_the_papers_value_needs_ours_within_a_tolerance_of_it():
    claim = Claim("queue on bigram flip: 0.55 test coarse", "0.55", "queue", "score", 0.55, within=0.1, partly=0.2)
    assert verdict(claim, runs("queue", 0.5, 0.6, 0.58))["verdict"] == "reproduced"
    assert verdict(claim, runs("queue", 1.0, 1.0, 1.0))["verdict"] == "not", "solving it is not the paper's 0.55"
    assert verdict(claim, runs("queue", 1.0, 1.0, 0.6))["verdict"] == "partly"  # the best seed, closest to 0.55
    assert verdict(claim, runs("queue", 0.4, 0.4, 0.1))["verdict"] == "partly"  # the median within 0.2
    with pytest.raises(ValueError, match="no rival"):
        Claim("x", "0.5", "a", "score", 0.5, within=0.1, versus="b")


def test_the_best_of_several_arms_by_a_selection_metric_and_several_rivals():
    deep = Claim("best deep LSTM fails", "0.04", ("lstm1", "lstm2", "lstm8"), "score", 0.1, higher=False,
                 select="loss")
    trained = (runs("lstm1", 0.3, metric="score") + runs("lstm2", 0.0) + runs("lstm8", 0.05))
    for r, loss in zip(trained, (0.9, 0.5, 0.2)):
        r.results["loss"] = loss
    row = verdict(deep, trained)  # lstm8 has the lowest training loss, so it is the one measured
    assert row["arm"] == "lstm8" and row["verdict"] == "reproduced" and "lstm8 of lstm1, lstm2, lstm8" in row["ours"]
    assert verdict(deep, runs("other", 1.0))["verdict"] == "not run"
    lowest = Claim("RNS lowest", "lower", "rns", "score", float("inf"), higher=False, versus=("lstm", "ns"))
    assert verdict(lowest, runs("rns", 0.1) + runs("lstm", 0.3) + runs("ns", 0.2))["verdict"] == "reproduced"
    assert verdict(lowest, runs("rns", 0.1) + runs("lstm", 0.3) + runs("ns", 0.05))["verdict"] == "not"
    assert verdict(lowest, runs("rns", 0.1) + runs("lstm", 0.3))["verdict"] == "not run", "a rival not trained here"


def test_every_row_carries_its_source_and_our_budget_against_the_papers():
    budget = Budget((100_000, 200_000), "1,000-2,000 epochs x 100 words", unit="updates")
    claim = Claim("counts", "n = 256", "lstm", "score", 256, source="section 5", budget=budget)
    row = verdict(claim, runs("lstm", 300, 300, 300, steps=30_000, batch=1, stopped=(20_000, None, 10_000)))
    assert row["source"] == "section 5"
    # ours: the median of 20,000, 30,000 and 10,000 updates trained, against 100,000-200,000
    assert row["budget"] == ("1/10 to 1/5 (ours 20,000 updates, median over seeds; paper's 100,000-200,000 updates "
                             "= 1,000-2,000 epochs x 100 words)")
    examples = Budget(1_000_000, "1,000k sequences (Figure 3)")
    assert examples.text(runs("a", 1, steps=3000, batch=16)).startswith("1/20.8 (ours 48,000 examples")
    assert Budget(10, "ten").text(runs("a", 1, steps=40, batch=1)).startswith("4x")
    unstated = Budget(None, "trained to convergence").text(runs("a", 1, steps=3000, batch=10))
    assert unstated == "no ratio: ours 30,000 examples, median over seeds; paper's not stated (trained to convergence)"
    unsourced = verdict(Claim("x", "y", "lstm", "score", 1), runs("lstm", 2))
    assert unsourced["source"] == "no source" and unsourced["budget"] == "not stated"
    note = provenance([claim], runs("lstm", 300, steps=30_000, batch=1))
    assert "section 5" in note and "lstm: 1/6.67 to 1/3.33" in note


def test_deviations_are_appended_to_a_docstring_as_a_table():
    rows = (Deviation("threshold", "0.005 (public code)", "0.01", "older default", "accepts fewer near misses"),)
    doc = with_deviations("Claim: counts.", rows)
    assert doc.splitlines()[2] == "Deviations from the paper:"
    assert "| threshold | 0.005 (public code) | 0.01 | older default | accepts fewer near misses |" in doc
    assert with_deviations("Claim: counts.", ()) == "Claim: counts."


def test_a_claim_that_an_arm_cannot_learn_needs_a_control_arm_that_did():
    """"The 1-layer QRNN stays at the majority class" is evidence only where the same protocol
    trained the 2-layer QRNN; an untrained control makes it "did not train"."""
    claim = Claim("QRNN at the majority class", "+0.2 points", "qrnn1", "score", 0.0, within=0.02,
                  fit=Fit("fit", 0.95, arm="qrnn2"))
    at_majority = runs("qrnn1", 0.0, 0.01, -0.01)
    assert verdict(claim, at_majority + runs("qrnn2", 0, 0, fit=[1.0, 0.5]))["verdict"] == "reproduced"
    row = verdict(claim, at_majority + runs("qrnn2", 0, 0, fit=[0.5, 0.6]))
    assert row["verdict"] == "did not train" and "control: 0 of 2 seeds of qrnn2 fit >= 0.95" in row["ours"]
    assert verdict(claim, at_majority)["verdict"] == "did not train", "no control trained: no evidence"
