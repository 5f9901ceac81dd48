"""Configs, length buckets, the train loop, evaluation, run directories, experiments, CLI."""

import dataclasses
import json
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cli import main
from rnnjax.eval import CountingResult, counting_generalisation
from rnnjax.tasks import anbn, anbncn
from rnnjax.tasks.base import prefix_counts
from rnnjax.train import TrainConfig, build_model, train, train_population
from rnnjax.train.loop import bucket_schedule, length_buckets, stack_members
from rnnjax.train.runs import evaluate, load_run
from rnnjax.train.sweep import Experiment, load_experiment, run_experiment

TINY = TrainConfig(
    hidden=4, embedding_dim=2, n_max=6, steps=30, batch_size=8, num_buckets=1, eval_n_max=8, log_every=10
)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("cell", "rnn", "cell must be one of ('elman', 'lstm', 'gru', 'qrnn', 'doubling_lstm'), got 'rnn'"),
        ("hidden", 0, "hidden must be >= 1, got 0"),
        ("n_max", 0, "n_max (0) must be >= n_min (1)"),
        ("threshold", 1.5, "threshold must be in (0, 1), got 1.5"),
        ("learning_rate", -1.0, "learning_rate must be > 0, got -1.0"),
        ("embedding_dim", -2, "embedding_dim must be >= 0, got -2"),
    ],
)
def test_bad_config_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**{field: value})


def test_config_json_round_trip():
    cfg = dataclasses.replace(TINY, cell="gru", hoist=False)
    assert TrainConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("language", [anbn(), anbncn()], ids=lambda l: l.name)
def test_length_buckets_cover_the_range_with_room(language):
    buckets = length_buckets(language, 1, 99, 4)
    assert len(buckets) == 4
    assert buckets[0].n_lo == 1 and buckets[-1].n_hi == 99
    for a, b in zip(buckets, buckets[1:]):
        assert b.n_lo == a.n_hi + 1
    assert all(b.max_len >= language.max_length(b.n_hi) and b.max_len % 8 == 0 for b in buckets)
    schedule = bucket_schedule(buckets, 4000, seed=0)
    share = np.bincount(schedule, minlength=4) / 4000
    sizes = np.array([b.n_hi - b.n_lo + 1 for b in buckets]) / 99
    np.testing.assert_allclose(share, sizes, atol=0.03)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_training_reduces_loss(cell):
    result = train(dataclasses.replace(TINY, cell=cell, steps=120, learning_rate=0.05), progress=False)
    assert result.diverged_at is None
    assert result.history[-1]["loss"] < 0.7 * result.history[0]["loss"]
    assert set(result.history[0]) == {"loss", "accuracy", "grad_norm", "learning_rate", "step"}
    assert result.history[0]["learning_rate"] == pytest.approx(0.05)


def test_training_is_deterministic_given_the_seed():
    a, b = (train(TINY, progress=False).params for _ in range(2))
    chex.assert_trees_all_equal(a, b)


def test_population_member_equals_its_solo_run():
    members = [dataclasses.replace(TINY, seed=s, learning_rate=lr) for s, lr in ((0, 0.01), (1, 0.05), (1, 0.01))]
    population = train_population(members, progress=False)
    for cfg, member in zip(members, population):
        solo = train(cfg, progress=False)
        chex.assert_trees_all_close(member.params, solo.params, atol=1e-6)
        np.testing.assert_allclose([h["loss"] for h in member.history], [h["loss"] for h in solo.history], rtol=1e-6)
        assert member.history[0]["learning_rate"] == pytest.approx(cfg.learning_rate)


def test_diverging_member_is_frozen_and_the_others_train_on():
    members = [dataclasses.replace(TINY, learning_rate=lr, clip_norm=0.0) for lr in (0.01, 1e38)]
    healthy, diverged = train_population(members, progress=False)
    assert healthy.diverged_at is None and diverged.diverged_at is not None
    assert diverged.diverged_at < TINY.steps
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(diverged.params))
    chex.assert_trees_all_close(healthy.params, train(members[0], progress=False).params, atol=1e-6)


def test_population_rejects_members_of_different_shapes():
    with pytest.raises(ValueError, match="members may differ only in"):
        train_population([TINY, dataclasses.replace(TINY, hidden=5)])


@pytest.mark.parametrize("cell", ["qrnn", "doubling_lstm"])
def test_new_cells_train_on_marked_reversal_and_are_evaluated(cell):
    cfg = dataclasses.replace(TINY, task="marked_reversal", cell=cell, steps=60, learning_rate=0.05)
    result = train(cfg, progress=False)
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    task, model = build_model(cfg)
    (metrics,) = evaluate(cfg, model, task, stack_members([result.params]))
    assert set(metrics) == {
        f"{k}_{r}" for k in ("accepted", "correct", "max_abs_state") for r in ("within_training", "beyond_training")
    }
    assert 0 <= metrics["correct_within_training"] <= metrics["accepted_within_training"] <= 1


def test_tagging_objective_trains_and_reports_accuracy_by_length():
    cfg = dataclasses.replace(
        TINY, task="anbn_sigma_star", objective="tagging", train_length=16, eval_lengths=(16, 32), steps=80,
        learning_rate=0.05,
    )
    result = train(cfg, progress=False)
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    task, model = build_model(cfg)
    (metrics,) = evaluate(cfg, model, task, stack_members([result.params]))
    assert set(metrics) == {"accuracy_T16", "majority_T16", "accuracy_T32", "majority_T32"}
    assert 0.5 <= metrics["majority_T16"] <= 1
    with pytest.raises(ValueError, match="objective 'tagging' needs a task in"):
        dataclasses.replace(cfg, task="anbn")


@pytest.mark.parametrize("memory", ["stack", pytest.param("deque", marks=pytest.mark.slow), "attention"])
def test_transduction_objective_trains_with_memories_and_reports_coarse_and_fine_accuracy(memory):
    cfg = dataclasses.replace(
        TINY, task="copy", objective="transduction", symbols=3, n_min=1, n_max=3, eval_n_max=5, memory=memory,
        memory_width=2, steps=60, learning_rate=0.05, num_buckets=1,
    )
    result = train(cfg, progress=False)
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    task, model = build_model(cfg)
    _, training_model = build_model(cfg, training=True)
    chex.assert_trees_all_equal_shapes(result.params, model.init(jax.random.key(0)))
    if memory != "attention":  # the memory holds the longest sequence of training (n 3), or of evaluation (n 6)
        def rows(m):
            state = m.cell.initial_state(result.params["cell"])
            return max(x.shape[0] for x in jax.tree_util.tree_leaves(state) if x.ndim)

        assert rows(training_model) < rows(model)
    (metrics,) = evaluate(cfg, model, task, stack_members([result.params]))
    assert set(metrics) == {"coarse_train", "fine_train", "coarse_test", "fine_test"}
    assert all(0 <= metrics[f"coarse_{s}"] <= metrics[f"fine_{s}"] <= 1 for s in ("train", "test"))
    assert metrics["fine_train"] > 0.3  # copying 1-3 of 3 symbols is learnt in 60 steps


def test_transduction_tasks_need_the_transduction_objective():
    with pytest.raises(ValueError, match="go with objective 'transduction' and only they do"):
        dataclasses.replace(TINY, task="copy")
    with pytest.raises(ValueError, match="go with objective 'transduction' and only they do"):
        dataclasses.replace(TINY, objective="transduction")
    with pytest.raises(ValueError, match="n_min must be >= 5, got 1"):
        dataclasses.replace(TINY, task="svo_sov", objective="transduction")


@pytest.mark.parametrize("name", ["counting", "doubling_lstm", "qrnn_vs_lstm", "transduction", "extraction", "cfl"])
def test_shipped_experiments_load(name):
    experiment = load_experiment(name)
    assert experiment.arms and experiment.description and len(experiment.sweep_seeds) >= 10


def test_one_hot_and_multilayer_models_train():
    cfg = dataclasses.replace(TINY, embedding_dim=0, layers=2, steps=5)
    _, model = build_model(cfg)
    assert model.embedding_dim is None and "embed" not in model.init(jax.random.key(0))
    assert train(cfg, progress=False).diverged_at is None


@dataclasses.dataclass(frozen=True)
class BoundedCounter:
    """Uniform over the true next-symbol set while at most ``counts_to`` a's have
    been read; past that it cannot tell where the b's end and allows b or EOS."""

    language: object
    counts_to: int

    def log_probs(self, params, inputs):
        string = inputs[1:]
        na, nb = prefix_counts(string, 0), prefix_counts(string, 1)
        loose = jnp.stack([nb == 0, na > 0, nb > 0], axis=-1)
        sets = jnp.where((na > self.counts_to)[:, None], loose, self.language.next_symbol_sets(string))
        return jnp.log(sets / sets.sum(-1, keepdims=True))


@pytest.mark.parametrize("counts_to, n_max, expected", [(50, 40, 40), (12, 40, 12)])
def test_counting_generalisation_finds_the_first_failure(counts_to, n_max, expected):
    language = anbn()
    model = BoundedCounter(language, counts_to)
    (result,) = counting_generalisation(model, jnp.zeros((1,)), language, n_max, threshold=0.005)
    assert result.largest_correct_n == expected
    assert result.member_accepted.all()
    assert result.near_misses_rejected[:expected].all() and not result.near_misses_rejected[expected:].any()


def test_largest_correct_n_needs_every_smaller_n():
    result = CountingResult(np.array([True, True, False, True]), np.array([True, True, True, True]))
    assert result.largest_correct_n == 2
    assert CountingResult(np.array([False]), np.array([True])).largest_correct_n == 0


def _tiny_experiment(reports):
    def report(runs, out_dir):
        reports.append(runs)
        return f"{len(runs)} runs"

    arms = {"lstm": TINY, "gru": dataclasses.replace(TINY, cell="gru")}
    return Experiment("tiny", arms, seeds=(0, 1), report=report)


def test_experiment_trains_saves_reloads_and_reuses_runs(tmp_path):
    reports = []
    experiment = _tiny_experiment(reports)
    runs, text = run_experiment(experiment, tmp_path, arms=("lstm",), progress=False)
    assert text.endswith("2 runs") and [r.config.seed for r in runs] == [0, 1]
    assert (tmp_path / "tiny" / "summary.md").exists() and (tmp_path / "tiny" / "accuracy_vs_n.png").exists()
    run_dir = tmp_path / "tiny" / "lstm" / "seed1"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["largest_correct_n"] >= 0 and results["diverged_at"] is None
    assert list(run_dir.glob("events.out.tfevents*")), "no TensorBoard events"

    fresh = train(dataclasses.replace(TINY, seed=1), progress=False).params
    chex.assert_trees_all_close(load_run(run_dir).params, fresh, atol=1e-6)

    mtime = (run_dir / "results.json").stat().st_mtime_ns
    run_experiment(experiment, tmp_path, arms=("lstm",), progress=False)
    assert (run_dir / "results.json").stat().st_mtime_ns == mtime, "finished run was retrained"
    run_experiment(experiment, tmp_path, arms=("lstm",), seeds=(1,), overrides={"hidden": 3}, progress=False)
    assert load_run(run_dir).config.hidden == 3, "changed config did not retrain"

    with pytest.raises(ValueError, match=r"unknown arms \['elman'\]"):
        run_experiment(experiment, tmp_path, arms=("elman",))
    with pytest.raises(FileNotFoundError, match="no finished run"):
        run_experiment(experiment, tmp_path, arms=("gru",), train_missing=False)


@pytest.mark.slow
def test_transduction_experiment_reports_the_paper_table_and_memory_action_plots(tmp_path):
    experiment = load_experiment("transduction")
    small = {"steps": 3, "n_min": 2, "n_max": 4, "eval_n_max": 6, "symbols": 4, "hidden": 4, "memory_width": 2}
    arms = ("reversal-stack", "reversal-deque", "copy-attention")
    runs, text = run_experiment(experiment, tmp_path, arms=arms, overrides=small, progress=False)
    out = tmp_path / "transduction"
    table = (out / "transduction.md").read_text()
    assert "| reversal | stack | 1 |" in table and "| copy | attention | 1 |" in table
    assert sorted(p.name for p in (out / "actions").glob("*.png")) == ["reversal-deque-seed0.png", "reversal-stack-seed0.png"]
    assert "coarse_test" in text


def test_load_experiment_names_the_available_ones():
    assert load_experiment("counting").name == "counting"
    with pytest.raises(ValueError, match=r"no experiment 'nope'; available: \[.*'counting'"):
        load_experiment("nope")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--experiment", "counting", "--bogus", "1"], "Unrecognized options: --bogus"),
        (["train", "--experiment", "counting", "--cell", "rnn"], "invalid choice 'rnn' for argument '--cell'"),
        (["train", "--experiment", "counting", "--hidden", "0"], "hidden must be >= 1, got 0"),
        (["train", "--experiment", "counting", "--hidden", "ten"], "--hidden"),
        (["train", "--experiment", "nope"], "no experiment 'nope'"),
        (["eval", "--run-dir", "/nonexistent"], "is not a finished run"),
        (["report", "/nonexistent"], "no finished runs"),
        (["sweep", "--experiment", "counting", "--grid", "hiden=10,20"], "grid field 'hiden' is not a TrainConfig field"),
        (["sweep", "--experiment", "counting", "--grid", "hidden=ten"], "grid value 'ten' is not valid for hidden"),
    ],
)
def test_cli_rejects_bad_input_naming_it(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in " ".join((captured.out + captured.err).split())


def test_cli_trains_and_evaluates_a_run(tmp_path, capsys):
    args = ["--experiment", "counting", "--out", str(tmp_path), "--arms", "lstm_anbn", "--seeds", "3"]
    small = ["--steps", "20", "--eval-n-max", "10", "--n-max", "5", "--hidden", "4"]
    main(["train", *args, *small, "--no-progress"])
    out = capsys.readouterr().out
    assert "| lstm_anbn |  | 3 |" in out and (tmp_path / "counting" / "states_a1000b1000.png").exists()
    main(["eval", "--run-dir", str(tmp_path / "counting" / "lstm_anbn" / "seed3"), "--eval-n-max", "12"])
    assert "largest_correct_n" in json.loads(capsys.readouterr().out)
