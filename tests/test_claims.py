"""Claims tables: verdicts from the numbers, and the table in the experiment report."""

import textwrap
from types import SimpleNamespace

import pytest

from rnnjax.cli import main
from rnnjax.eval.claims import Claim, claims_table, verdict
from rnnjax.train.experiment import load_experiment


def runs(arm: str, *values, metric="score", diverged=()):
    return [SimpleNamespace(results={"arm": arm, metric: v, "diverged_at": 5 if i in diverged else None})
            for i, v in enumerate(values)]


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
    assert table.splitlines()[0] == "| claim | paper | ours | verdict | command |"
    assert "lstm median 5" in table


def test_the_experiments_claims_name_their_arms_and_metrics():
    for name in ("counting", "counting_paper", "transduction", "cfl"):
        experiment = load_experiment(name)
        assert experiment.claims, name
        for claim in experiment.claims:
            assert claim.arm in experiment.arms and (claim.versus is None or claim.versus in experiment.arms)
            assert claim.command.startswith("rnnjax train --experiment " + name)


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
    assert "| trains to a finite loss | - | median" in printed
    assert "the GRU counts" not in printed, "a claim of an arm that was not trained is left out"
    asked = f"rnnjax train --experiment {path} --arms lstm --no-progress"  # the command that trained the runs
    assert (tmp_path / "out" / "claimed" / "command.txt").read_text() == asked + "\n"
    assert printed.count(f"| {asked} |") == 2 and "| rnnjax train |" not in printed
    main(["report", str(tmp_path / "out" / "claimed"), "--experiment", str(path)])
    again = capsys.readouterr().out
    lines = [line for line in again.splitlines() if line.startswith("| counts to 1000")]
    assert len(lines) == 1 and "| not |" in lines[0]
    assert (tmp_path / "out" / "claimed" / "claims.md").read_text().count("\n") == 4
