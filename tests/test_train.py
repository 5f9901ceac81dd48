"""Configs, length buckets, the train loop, evaluation, run directories, experiments, CLI."""

import json
import re
import shutil
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cli import main
from rnnjax.eval import evaluate
from rnnjax.tasks import TASKS
from rnnjax.tasks.language import prefix_counts
from rnnjax.train import TrainConfig, build
from rnnjax.train.build import length_buckets
from rnnjax.train.experiment import Experiment, load_experiment
from rnnjax.train.loop import bucket_schedule, stack_members, train, train_population
from rnnjax.train.runs import load_run
from rnnjax.train.sweep import run_experiment

DATA = Path(__file__).parent / "data"
TINY = TrainConfig.of(
    hidden=4, embedding_dim=2, n_max=6, steps=30, batch_size=8, num_buckets=1, eval_n_max=8, log_every=10
)


@pytest.mark.parametrize(
    "flat, message",
    [
        (dict(cell="rnn"), "unknown cell 'rnn'; choices: elman, lstm, gru, qrnn, doubling_lstm"),
        (dict(task="anbm"), "unknown task 'anbm'; choices: anbn, anbncn"),
        (dict(hidden=0), "hidden must be >= 1, got 0"),
        (dict(n_max=0), "n_max (0) must be >= n_min (1)"),
        (dict(learning_rate=-1.0), "learning_rate must be > 0, got -1.0"),
        (dict(embedding_dim=-2), "embedding_dim must be >= 0, got -2"),
        (dict(hiden=3), "unknown config field 'hiden' (did you mean 'hidden'?)"),
        (dict(symbols=3), "option 'symbols' belongs to task copy, reversal, bigram_flip, not to task 'anbn'"),
        (dict(memory_width=3), "not to memory 'none'"),
        (dict(activation="tanh"), "option 'activation' belongs to cell elman, not to cell 'lstm'"),
        (dict(cell="elman", activation="sigmoid"), "activation must be one of ('tanh', 'relu', 'saturated')"),
        (dict(hidden=2.5), "hidden must be int, got 2.5"),
    ],
)
def test_bad_config_values_name_the_field(flat, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig.of(**flat)


def test_bad_option_values_fail_when_the_task_is_built():
    with pytest.raises(ValueError, match=re.escape("threshold must be in (0, 1), got 1.5")):
        build(TINY.replace(threshold=1.5))
    assert TINY.replace(task="svo_sov").task.n_min == 5, "a new task entry starts at its smallest n"
    with pytest.raises(ValueError, match="svo_sov sources have at least 5 symbols: n_min must be >= 5, got 1"):
        build(TINY.replace(task="svo_sov").replace(n_min=1))


def test_config_groups_flat_names_and_json_round_trip():
    cfg = TINY.replace(task="copy", symbols=5, cell="gru", reset="after", memory="stack", memory_width=3)
    assert (cfg.task.name, cfg.model.cell, cfg.model.memory, cfg.run.steps) == ("copy", "gru", "stack", 30)
    assert cfg.task.options == {"symbols": 5, "eval_samples": 500}
    assert cfg.model.cell_options == {"reset": "after", "hoist": None}
    assert cfg.get("memory_width") == 3 and cfg.get("threshold") is None
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["version"] == 3
    # a new entry keeps the options it shares and takes its defaults for the rest
    assert cfg.replace(task="reversal").task.options == {"symbols": 5, "eval_samples": 500}
    assert cfg.replace(task="svo_sov").task.options == {"eval_samples": 500}
    assert cfg.replace(cell="lstm").model.cell_options == {"forget_bias": 1.0, "hoist": None}


PROTOCOL_CHANGES = {  # issue 32: the authors' protocols became the defaults (flat fields that changed)
    "qrnn_vs_lstm": {"task", "eval_samples", "hidden", "embedding_dim", "learning_rate", "clip_norm", "batch_size",
                     "steps", "stop_when", "stop_loss", "stop_patience", "stop_every", "num_buckets", "log_every"},
    "cfl": {"clip_norm", "steps", "stop_when", "stop_loss", "stop_patience", "stop_every", "stack_states"},
}
ARM_RENAMES = {"transduction": lambda arm: arm + "2" if arm.endswith("-lstm") else arm}  # the 2-layer deep LSTM


def test_every_config_of_the_previous_release_migrates_to_the_current_arm():
    """Each config of the previous release loads; it equals the current arm, but for the fields
    a protocol change named (``PROTOCOL_CHANGES``) under the arm's current name."""
    old = json.loads((DATA / "v1_configs.json").read_text())
    for name, arms in old.items():
        experiment = load_experiment(name)
        for arm, fields in arms.items():
            migrated = TrainConfig.from_json(json.dumps(fields))
            current = experiment.arms[ARM_RENAMES.get(name, str)(arm)]
            was, now = migrated.flat(), current.flat()
            changed = {k for k in was.keys() | now.keys() if was.get(k) != now.get(k)}
            assert changed <= PROTOCOL_CHANGES.get(name, set()), (name, arm, changed)


def test_a_run_directory_of_the_previous_release_loads_and_evaluates_to_its_results(tmp_path):
    run_dir = tmp_path / "lstm_anbn" / "seed0"
    shutil.copytree(DATA / "v1_runs" / "counting" / "lstm_anbn" / "seed0", run_dir)
    run = load_run(run_dir)
    assert run.config.task.name == "anbn" and run.config.model.hidden == 2
    (metrics,) = evaluate(run.task, run.model, stack_members([run.params]))
    assert metrics == {k: run.results[k] for k in metrics}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{}")
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"task": "anbn", "cell": "lstm", "hidden": -1}))
    with pytest.raises(ValueError, match="config.json cannot be read by this rnnjax: hidden must be >= 1"):
        load_run(tmp_path / "bad")


@pytest.mark.parametrize("task", ["anbn", "anbncn"])
def test_length_buckets_cover_the_range_with_room(task):
    t = build(TINY.replace(task=task, n_max=99)).task
    buckets = length_buckets(t, 4)
    assert len(buckets) == 4
    assert buckets[0].n_lo == 1 and buckets[-1].n_hi == 99
    for a, b in zip(buckets, buckets[1:]):
        assert b.n_lo == a.n_hi + 1
    assert all(b.max_len >= t.max_length(b.n_hi) and b.max_len % 8 == 0 for b in buckets)
    schedule = bucket_schedule(buckets, 4000, seed=0)
    share = np.bincount(schedule, minlength=4) / 4000
    sizes = np.array([b.n_hi - b.n_lo + 1 for b in buckets]) / 99
    np.testing.assert_allclose(share, sizes, atol=0.03)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_training_reduces_loss(cell):
    result = train(TINY.replace(cell=cell, steps=120, learning_rate=0.05), progress=False)
    assert result.diverged_at is None
    assert result.history[-1]["loss"] < 0.7 * result.history[0]["loss"]
    assert set(result.history[0]) == {"loss", "accuracy", "grad_norm", "learning_rate", "step"}
    assert result.history[0]["learning_rate"] == pytest.approx(0.05)


def test_training_is_deterministic_given_the_seed():
    a, b = (train(TINY, progress=False).params for _ in range(2))
    chex.assert_trees_all_equal(a, b)


def test_steps_per_call_does_not_change_the_results(tmp_path):
    cfg = TINY.replace(n_max=9, num_buckets=2, log_every=4)  # two padded lengths: two branches of the switch
    members = [cfg.replace(seed=s, learning_rate=lr) for s, lr in ((0, 0.01), (1, 0.05))]
    one = train_population(members, progress=False, steps_per_call=1)
    seven = train_population(members, progress=False, steps_per_call=7, checkpoint_dir=tmp_path, checkpoint_every=10)
    for a, b in zip(one, seven):  # 7 divides neither the steps nor the checkpoint interval
        chex.assert_trees_all_equal(a.params, b.params)
        assert a.history == b.history and [h["step"] for h in a.history] == [0, 4, 8, 12, 16, 20, 24, 28, 29]
    with pytest.raises(ValueError, match="steps_per_call must be >= 1"):
        train_population(members, progress=False, steps_per_call=0)


def test_population_member_equals_its_solo_run():
    members = [TINY.replace(seed=s, learning_rate=lr) for s, lr in ((0, 0.01), (1, 0.05), (1, 0.01))]
    population = train_population(members, progress=False)
    for cfg, member in zip(members, population):
        solo = train(cfg, progress=False)  # compiled without the member axis: floats reassociate (~1e-5 here)
        chex.assert_trees_all_close(member.params, solo.params, atol=1e-4)
        np.testing.assert_allclose([h["loss"] for h in member.history], [h["loss"] for h in solo.history], rtol=1e-4)
        assert member.history[0]["learning_rate"] == pytest.approx(cfg.optim.learning_rate)


def test_diverging_member_is_frozen_and_the_others_train_on():
    members = [TINY.replace(learning_rate=lr, clip_norm=0.0) for lr in (0.01, 1e38)]
    healthy, diverged = train_population(members, progress=False)
    assert healthy.diverged_at is None and diverged.diverged_at is not None
    assert diverged.diverged_at < TINY.run.steps
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(diverged.params))
    chex.assert_trees_all_close(healthy.params, train(members[0], progress=False).params, atol=1e-4)


def test_population_rejects_members_of_different_shapes():
    with pytest.raises(ValueError, match="members may differ only in"):
        train_population([TINY, TINY.replace(hidden=5)])


@pytest.mark.parametrize("cell", ["qrnn", "doubling_lstm"])
def test_new_cells_train_on_marked_reversal_and_are_evaluated(cell):
    cfg = TINY.replace(task="marked_reversal", cell=cell, steps=60, learning_rate=0.05)
    result = train(cfg, progress=False)
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    parts = build(cfg)
    (metrics,) = evaluate(parts.task, parts.eval_model, stack_members([result.params]))
    assert set(metrics) == set(parts.task.evaluation.metrics) == {
        f"{k}_{r}" for k in ("accepted", "correct", "max_abs_state") for r in ("within_training", "beyond_training")
    }
    assert 0 <= metrics["correct_within_training"] <= metrics["accepted_within_training"] <= 1


SLOW = pytest.mark.slow


@pytest.mark.parametrize("memory", [pytest.param(m, marks=SLOW) for m in ("stack", "deque", "attention")])
def test_transduction_trains_with_memories_and_reports_coarse_and_fine_accuracy(memory):
    cfg = TINY.replace(task="copy", symbols=3, n_min=1, n_max=3, eval_n_max=5, learning_rate=0.05, steps=60)
    cfg = cfg.replace(model="attention") if memory == "attention" else cfg.replace(memory=memory, memory_width=2)
    result = train(cfg, progress=False)
    assert result.history[-1]["loss"] < 0.8 * result.history[0]["loss"]
    parts = build(cfg)
    chex.assert_trees_all_equal_shapes(result.params, parts.eval_model.init(jax.random.key(0)))
    (metrics,) = evaluate(parts.task, parts.eval_model, stack_members([result.params]))
    assert set(metrics) == {"coarse_train", "fine_train", "coarse_test", "fine_test"}
    assert all(0 <= metrics[f"coarse_{s}"] <= metrics[f"fine_{s}"] <= 1 for s in ("train", "test"))
    assert metrics["fine_train"] > 0.3  # copying 1-3 of 3 symbols is learnt in 60 steps


@pytest.mark.parametrize("task, train_rows, eval_rows", [("copy", 7, 11), ("anbn", 9, 18), ("tomita3", 16, 128)])
def test_memories_hold_the_longest_input_of_each_phase(task, train_rows, eval_rows):
    """Training buffers hold the longest padded training input, evaluation ones the longest
    evaluation input; both models share their parameters."""
    flat = {"copy": dict(n_max=3, eval_n_max=5), "anbn": dict(n_max=4, eval_n_max=8),
            "tomita3": dict(n_min=16, n_max=16, eval_lengths=(24, 128))}[task]
    parts = build(TINY.replace(task=task, memory="stack", memory_width=2, **flat))
    params = parts.model.init(jax.random.key(0))
    chex.assert_trees_all_equal_shapes(params, parts.eval_model.init(jax.random.key(0)))
    for model, rows in ((parts.model, train_rows), (parts.eval_model, eval_rows)):
        assert model.cell.initial_state(params["cell"])[1][0].shape[0] == rows


def test_memory_capacity_follows_the_phase_for_prediction_tasks(tmp_path, capsys):
    """Evaluation inputs padded past the training lengths fit the evaluation memory."""
    main(["train", "--experiment", "counting", "--arms", "lstm_anbn", "--memory", "stack", "--memory-width", "2",
          "--steps", "2", "--seeds", "0", "--hidden", "3", "--n-max", "10", "--eval-n-max", "30", "--out",
          str(tmp_path), "--no-progress"])
    results = json.loads((tmp_path / "counting" / "lstm_anbn" / "seed0" / "results.json").read_text())
    assert len(results["correct_by_n"]) == 30


def test_an_evaluation_that_cannot_fit_is_refused_before_training():
    cfg = TINY.replace(memory="nondeterministic_stack", eval_n_max=5000, steps=10**6)
    with pytest.raises(ValueError, match=r"evaluating inputs of length 10002 needs about .* lower --eval-n-max"):
        train(cfg, progress=False)


@pytest.mark.parametrize("name", ["counting", "doubling_lstm", "qrnn_vs_lstm", "transduction", "extraction", "cfl"])
def test_shipped_experiments_load(name):
    experiment = load_experiment(name)
    points = int(np.prod([len(values) for values in experiment.grid.values()]))
    assert experiment.arms and experiment.description and len(experiment.sweep_seeds) * points >= 10


def test_one_hot_and_multilayer_models_train():
    cfg = TINY.replace(embedding_dim=0, layers=2, steps=5)
    model = build(cfg).model
    assert model.embedding_dim is None and "embed" not in model.init(jax.random.key(0))
    assert train(cfg, progress=False).diverged_at is None


class BoundedCounter:
    """Uniform over the true next-symbol set while at most ``counts_to`` a's have been
    read; past that it cannot tell where the b's end: it allows b or EOS after any b
    (``loose``), or counts the b's exactly but allows EOS after any b (not ``loose``:
    it accepts a^n b^{n-1} and rejects a^n b^{n+1})."""

    num_outputs = 3

    def __init__(self, language, counts_to, loose=True):
        self.language, self.counts_to, self.loose = language, counts_to, loose

    def bind(self, params):
        return self

    def init(self, key):
        return {}

    def states(self, params, inputs):
        return jnp.zeros((inputs.shape[0], 1))

    def logits(self, inputs):
        string = inputs[1:]
        na, nb = prefix_counts(string, 0), prefix_counts(string, 1)
        b_allowed = (na > 0) if self.loose else (na > 0) & (nb < na)
        wide = jnp.stack([nb == 0, b_allowed, nb > 0], axis=-1)
        sets = jnp.where((na > self.counts_to)[:, None], wide, self.language.next_symbol_sets(string))
        return jnp.log(sets / sets.sum(-1, keepdims=True))


@pytest.mark.parametrize("counts_to, eval_n_max, loose, expected", [(50, 40, True, 40), (12, 40, True, 12),
                                                                     (12, 40, False, 12)])
def test_counting_evaluation_finds_the_first_failure(counts_to, eval_n_max, loose, expected):
    task = TASKS["anbn"](1, 10, eval_n_max)
    (result,) = evaluate(task, BoundedCounter(task.definition, counts_to, loose), jnp.zeros((1,)))
    assert result["largest_correct_n"] == expected
    assert result["members_accepted"] == eval_n_max
    assert result["correct_by_n"] == "1" * expected + "0" * (eval_n_max - expected)
    assert result["near_misses_rejected"] == expected  # beyond counts_to at least one near miss is accepted


def _tiny_experiment(reports):
    def report(runs, out_dir):
        reports.append(runs)
        return f"{len(runs)} runs"

    arms = {"lstm": TINY, "gru": TINY.replace(cell="gru")}
    return Experiment("tiny", arms, seeds=(0, 1), report=report)


def test_experiment_trains_saves_reloads_and_reuses_runs(tmp_path):
    reports = []
    experiment = _tiny_experiment(reports)
    runs, text = run_experiment(experiment, tmp_path, arms=("lstm",), progress=False)
    assert "2 runs" in text and [r.config.run.seed for r in runs] == [0, 1]
    assert (tmp_path / "tiny" / "summary.md").exists() and (tmp_path / "tiny" / "accuracy_vs_n.png").exists()
    run_dir = tmp_path / "tiny" / "lstm" / "seed1"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["largest_correct_n"] >= 0 and results["diverged_at"] is None
    assert list(run_dir.glob("events.out.tfevents*")), "no TensorBoard events"

    fresh = train(TINY.replace(seed=1), progress=False).params
    chex.assert_trees_all_close(load_run(run_dir).params, fresh, atol=1e-6)

    mtime = (run_dir / "results.json").stat().st_mtime_ns
    run_experiment(experiment, tmp_path, arms=("lstm",), progress=False)
    assert (run_dir / "results.json").stat().st_mtime_ns == mtime, "finished run was retrained"
    with pytest.raises(ValueError, match=r"another config \(hidden 4 there, 3 here\).*--overwrite"):
        run_experiment(experiment, tmp_path, arms=("lstm",), seeds=(1,), overrides={"hidden": 3}, progress=False)
    run_experiment(experiment, tmp_path, arms=("lstm",), seeds=(1,), overrides={"hidden": 3}, progress=False,
                   overwrite=True)
    assert load_run(run_dir).config.model.hidden == 3, "changed config did not retrain"

    with pytest.raises(ValueError, match=r"unknown arms \['elman'\]"):
        run_experiment(experiment, tmp_path, arms=("elman",))
    with pytest.raises(ValueError, match="no arm of tiny takes 'symbols'"):
        run_experiment(experiment, tmp_path, arms=("lstm",), overrides={"symbols": 3})
    with pytest.raises(FileNotFoundError, match="no finished run"):
        run_experiment(experiment, tmp_path, arms=("gru",), train_missing=False)


@pytest.mark.slow
def test_transduction_experiment_reports_the_paper_table_and_memory_action_plots(tmp_path):
    experiment = load_experiment("transduction")
    small = {"steps": 3, "n_min": 2, "n_max": 4, "eval_n_max": 6, "symbols": 4, "hidden": 4, "memory_width": 2}
    arms = ("reversal-stack", "reversal-deque", "copy-attention")
    runs, text = run_experiment(experiment, tmp_path, arms=arms, overrides=small, progress=False)
    out = tmp_path / "transduction"
    table = (out / "compact.md").read_text()
    assert "| reversal | stack | 1 |" in table and "| copy | attention | 1 |" in table
    plots = sorted(p.name for p in (out / "actions").glob("*.png"))
    assert plots == ["reversal-deque-seed0.png", "reversal-stack-seed0.png"]
    assert "coarse test" in text


def test_load_experiment_names_the_available_ones():
    assert load_experiment("counting").name == "counting"
    with pytest.raises(ValueError, match=r"no built-in experiment 'nope'; built-in: \[.*'counting'"):
        load_experiment("nope")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--experiment", "counting", "--bogus", "1"], "Unrecognized options: --bogus"),
        (["train", "--experiment", "counting", "--cell", "rnn"], "invalid choice 'rnn' for argument '--cell'"),
        (["train", "--task", "anbm"], "invalid choice 'anbm' for argument '--task'"),
        (["train", "--experiment", "counting", "--hidden", "0"], "hidden must be >= 1, got 0"),
        (["train", "--experiment", "counting", "--hidden", "ten"], "--hidden"),
        (["train", "--task", "anbn", "--symbols", "3"], "option 'symbols' belongs to task copy"),
        (["train", "--experiment", "nope"], "no built-in experiment 'nope'"),
        (["eval", "--run-dir", "/nonexistent"], "is not a finished run"),
        (["eval", "--run-dir", "/nonexistent", "--hidden", "3"], "eval re-evaluates a trained model: --hidden"),
        (["report", "/nonexistent"], "no finished runs"),
        (["sweep", "--experiment", "counting", "--grid", "hiden=10,20"], "grid field 'hiden' is not a config field"),
        (["sweep", "--experiment", "counting", "--grid", "hidden=ten"], "grid value 'ten' is not valid for hidden"),
    ],
)
def test_cli_rejects_bad_input_naming_it(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in " ".join((captured.out + captured.err).split())


def test_cli_help_lists_registry_choices_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for expected in ("--task", "cfl_hardest_cfl", "--cell", "doubling_lstm", "--memory",
                     "vector_nondeterministic_stack", "--model", "attention", "--memory-width", "--stack-states",
                     "--forget-bias", "--learning-rate"):
        assert expected in text, expected


def test_cli_trains_an_ad_hoc_arm_without_an_experiment(tmp_path, capsys):
    main(["train", "--task", "anbn", "--cell", "gru", "--steps", "20", "--hidden", "3", "--n-max", "4",
          "--eval-n-max", "6", "--out", str(tmp_path), "--no-progress"])
    run_dir = tmp_path / "adhoc" / "anbn-gru" / "n_max=4,hidden=3,eval_n_max=6,steps=20" / "seed0"
    assert (run_dir / "results.json").exists(), sorted(p for p in tmp_path.rglob("*") if p.is_dir())
    assert load_run(run_dir).config.model.cell == "gru"
    capsys.readouterr()
    main(["eval", "--run-dir", str(run_dir), "--eval-n-max", "8"])
    assert len(json.loads(capsys.readouterr().out)) > 3
    main(["report", str(tmp_path / "adhoc")])
    assert "anbn-gru" in capsys.readouterr().out
