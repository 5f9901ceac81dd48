"""The Chomsky-hierarchy benchmark: its tasks by level, its models through the CLI, its evaluation's programs,
and its report beside the published table."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax import cells
from rnnjax.cli import main
from rnnjax.compilation import compilations
from rnnjax.eval import evaluate
from rnnjax.models import SequenceModel
from rnnjax.tasks import TASKS, chomsky
from rnnjax.train import build
from rnnjax.train.experiment import load_experiment
from rnnjax.train.loop import stack_members

EXPERIMENT = load_experiment("chomsky")
PAPER_MODELS = ("rnn", "lstm", "stack_rnn", "tape_rnn", "transformer")
TINY = ["--steps", "3", "--hidden", "4", "--eval-n-max", "6", "--eval-samples", "2", "--batch-size", "4",
        "--num-buckets", "2", "--n-max", "4", "--no-progress"]


def test_the_fifteen_tasks_are_registered_by_level():
    sizes = {level: len(tasks) for level, tasks in chomsky.LEVELS.items()}
    assert sizes == {"regular": 4, "dcf": 4, "cs": 7}
    for tasks in chomsky.LEVELS.values():
        for name in tasks:
            task = TASKS[name](1, 40, 500)
            assert not task.causal and task.separator == task.definition.blank and task.pad == task.separator + 1
    assert len(EXPERIMENT.default_arms) == 15 * 5 and len(EXPERIMENT.arms) > 15 * 5


@pytest.mark.parametrize("programs", [pytest.param(10, marks=pytest.mark.slow), 3])
def test_evaluation_over_lengths_1_to_500_compiles_at_most_eval_programs(programs):
    task = TASKS["duplicate_string"](1, 40, 500, eval_samples=16, eval_programs=programs)
    (evaluation_set,) = task.evaluation.sets()
    assert evaluation_set.width == 1500 and len(evaluation_set.lengths) == 500 * 16
    model = SequenceModel(cells.lstm(4), task.vocab_size, task.num_outputs, separator=task.separator)
    members = stack_members([model.init(jax.random.key(0))])
    results = []
    _, compiles = compilations(lambda: results.extend(evaluate(task, model, members)))
    assert 2 <= compiles <= programs, compiles  # the public code compiles once per length: 500
    (result,) = results
    assert len(result["accuracy_by_n"]) == 500 and 0 <= result["accuracy_test"] <= 1


def test_the_tape_rnn_jumps_by_the_input_length_of_each_example():
    parts = build(EXPERIMENT.arms["duplicate_string-tape_rnn"].replace(hidden=4))
    model, task = parts.model, parts.task
    params = model.init(jax.random.key(0))
    for n in (3, 7):
        example = task.sample(jax.random.key(n), n, n, task.max_length(8))
        state = model.start(model.cell, params["cell"], example["inputs"])
        assert int(state[1][3]) == n  # (controller, (cells, head, read gate, source length), previous read)
    assert model.cell.condition is not None and build(EXPERIMENT.arms["duplicate_string-lstm"]).model.cell.condition \
        is None


def test_a_transformer_is_bidirectional_on_tapes_and_causal_on_next_symbol_prediction():
    tape = build(EXPERIMENT.arms["reverse_string-transformer"].replace(blocks=1))
    prediction = build(EXPERIMENT.arms["reverse_string-transformer"].replace(task="anbn", blocks=1, eval_n_max=10))
    assert not tape.model.causal and tape.model.pad == tape.task.pad
    assert prediction.model.causal


@pytest.mark.parametrize("models", [("stack_rnn",), pytest.param(PAPER_MODELS, marks=pytest.mark.slow)])
def test_models_train_on_a_task_through_the_cli_and_the_report_sets_the_paper_beside(models, tmp_path, capsys):
    arms = [f"reverse_string-{m}" for m in models]
    main(["train", "--experiment", "chomsky", "--arms", *arms, "--out", str(tmp_path), *TINY])
    out = tmp_path / "chomsky"
    table = (out / "compact.md").read_text()
    assert "| dcf | reverse_string |" in table and " (100)" in table  # the stack RNN's published score
    assert (out / "lengths" / "reverse_string.png").stat().st_size > 0
    for arm in arms:
        results = json.loads((out / arm / "seed0" / "results.json").read_text())
        assert len(results["accuracy_by_n"]) == 6 and 0 <= results["accuracy_test"] <= 1
    assert "Solved (>= 90%) in both or in neither" in capsys.readouterr().out


@pytest.mark.slow
def test_every_paper_model_trains_on_every_task(tmp_path):
    main(["train", "--experiment", "chomsky", "--out", str(tmp_path), *TINY])
    table = (tmp_path / "chomsky" / "compact.md").read_text()
    assert all(f"| {name} |" in table for tasks in chomsky.LEVELS.values() for name in tasks)
    results = [json.loads(p.read_text()) for p in (tmp_path / "chomsky").rglob("results.json")]
    assert len(results) == 75 and all(np.isfinite(r["final_loss"]) for r in results)


@pytest.mark.slow
def test_every_extra_model_trains_on_a_task_through_the_cli(tmp_path):
    extras = [arm for arm in EXPERIMENT.arms if arm.startswith("odds_first-") and arm not in EXPERIMENT.default_arms]
    assert len(extras) == 12  # four more encodings, RNS, VRNS, stack, queue, deque, superposition, tape, attention
    main(["train", "--experiment", "chomsky", "--arms", *extras, "--out", str(tmp_path), *TINY])
    results = [json.loads(p.read_text()) for p in (tmp_path / "chomsky").rglob("results.json")]
    assert len(results) == 12 and all(np.isfinite(r["final_loss"]) and r["accuracy_test"] >= 0 for r in results)


def test_scores_are_mean_accuracies_beyond_the_training_lengths():
    task = TASKS["parity_check"](1, 3, 8, eval_samples=4)
    model = SequenceModel(cells.gru(3), task.vocab_size, task.num_outputs)
    (result,) = evaluate(task, model, stack_members([model.init(jax.random.key(1))]))
    by_n = np.array(result["accuracy_by_n"])
    assert result["accuracy_train"] == pytest.approx(by_n[:3].mean(), abs=1e-6)
    assert result["accuracy_test"] == pytest.approx(by_n[3:].mean(), abs=1e-6)
    assert jnp.isfinite(by_n).all()
