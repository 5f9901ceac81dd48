"""Registries: a task and a cell registered from this file train, evaluate and report through the CLI;
every registered task honours the Task protocol."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnjax.cells import CELLS, Cell
from rnnjax.cli import main
from rnnjax.eval import evaluate
from rnnjax.models import SequenceModel
from rnnjax.registry import Registry
from rnnjax.tasks import TASKS, ClassTask, final_class, formatted
from rnnjax.train import TrainConfig, build
from rnnjax.train.loop import stack_members


def toy_cell(hidden: int, *, scale: float = 1.0) -> Cell:
    """``h_t = tanh(scale * (W x_t + U h_{t-1} + b))``."""

    def init(key, input_dim):
        kx, kh = jax.random.split(key)
        return {"wx": jax.random.normal(kx, (input_dim, hidden)) / jnp.sqrt(input_dim),
                "wh": jax.random.normal(kh, (hidden, hidden)) / jnp.sqrt(hidden), "b": jnp.zeros((hidden,))}

    def step(params, h, x):
        h = jnp.tanh(scale * (x @ params["wx"] + h @ params["wh"] + params["b"]))
        return h, h

    return Cell(f"toy({hidden})", hidden, init, lambda params: jnp.zeros((hidden,)), lambda params, xs: xs, step)


def first_symbol(symbols: int = 2) -> ClassTask:
    """The first of n symbols, read at the end."""

    def make(key, n, max_len):
        x = jax.random.randint(key, (max_len,), 0, symbols)
        return x, x[0]

    return ClassTask("toy_first_symbol", symbols, symbols, make, lambda x: x[0])


@pytest.fixture
def toys():
    CELLS.register("toy", toy_cell)
    TASKS.register("toy_first_symbol", formatted(final_class, first_symbol))
    yield
    CELLS.remove("toy")
    TASKS.remove("toy_first_symbol")


def test_a_task_and_a_cell_registered_here_train_evaluate_and_report_through_the_cli(toys, tmp_path, capsys):
    flags = ["--task", "toy_first_symbol", "--cell", "toy", "--scale", "0.8", "--symbols", "3", "--n-max", "5",
             "--eval-n-max", "8", "--hidden", "8", "--embedding-dim", "0", "--steps", "300", "--learning-rate", "0.05",
             "--log-every", "100"]
    main(["train", *flags, "--out", str(tmp_path), "--no-progress"])
    (run_dir,) = [p.parent for p in (tmp_path / "adhoc").rglob("results.json")]
    assert run_dir.relative_to(tmp_path / "adhoc").parts[0] == "toy_first_symbol-toy"
    results = json.loads((run_dir / "results.json").read_text())
    assert len(results["accuracy_by_n"]) == 8
    assert results["accuracy_train"] > 0.9, results  # remembering the first of <= 5 symbols is learnt
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["cell_options"] == {"scale": 0.8} and config["task"]["options"]["symbols"] == 3
    capsys.readouterr()
    main(["eval", "--run-dir", str(run_dir), "--eval-n-max", "10"])
    assert {"accuracy_train", "accuracy_test"} <= set(json.loads(capsys.readouterr().out))
    main(["report", str(tmp_path / "adhoc")])
    assert "toy_first_symbol-toy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy_first_symbol" in capsys.readouterr().out


def test_registry_errors_list_the_choices():
    registry = Registry("widget")
    registry.register("a", lambda *, size=1: size)
    registry.register("b", lambda *, size=1, colour="red": (size, colour))
    with pytest.raises(ValueError, match="unknown widget 'c'; choices: a, b"):
        registry["c"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", lambda: 0)
    with pytest.raises(ValueError, match=r"a takes no option \['colour'\]; its options: \['size'\]"):
        registry["a"](colour="blue")
    assert registry["b"](size=3) == (3, "red")
    assert {f: [e.name for e in es] for f, es in registry.option_flags().items()} == {"size": ["a", "b"],
                                                                                      "colour": ["b"]}
    with pytest.raises(ValueError, match="needs a parameter 'width' with a default"):
        registry.register("c", lambda width: width, options={"width": "width"})


def _small(name: str) -> TrainConfig:
    """A small instance of every registered task."""
    options = TASKS[name].options
    n = {"svo_sov": (6, 8), "gender_conjugation": (6, 8), "cfl_hardest_cfl": (6, 8)}.get(name, (2, 4))
    cfg = TrainConfig.of(task=name, n_min=n[0], n_max=n[1], eval_n_max=n[1] + 3, hidden=3, num_buckets=2)
    small = {"eval_lengths": (6, 9), "eval_samples": 5, "pool_size": 64, "symbols": 4}
    return cfg.replace(**{k: v for k, v in small.items() if k in options})


ONE_PER_FORMAT = ("anbn", "marked_reversal", "tomita3", "copy", "cfl_dyck2")


@pytest.mark.parametrize("name", [n if n in ONE_PER_FORMAT else pytest.param(n, marks=pytest.mark.slow)
                                  for n in TASKS.names() if not n.startswith("toy")])
def test_every_registered_task_honours_the_protocol(name):
    parts = build(_small(name))
    task = parts.task
    assert TASKS[name].doc, "registered without a description"
    for bucket in parts.buckets:
        @jax.jit
        def sampled_loss(key):
            batch = jax.vmap(task.sample, (0, None, None, None))(jax.random.split(key, 4), bucket.n_lo, bucket.n_hi,
                                                                  bucket.max_len)
            logits = jax.random.normal(key, (*batch["inputs"].shape, task.num_outputs))
            return batch["inputs"], task.loss(logits, batch)

        inputs, (loss, metrics) = sampled_loss(jax.random.key(0))
        inputs = np.asarray(inputs)
        assert inputs.dtype == np.int32 and inputs.min() >= 0 and inputs.max() < task.vocab_size
        assert inputs.shape == (4, task.input_length(bucket.max_len))
        assert np.isfinite(loss) and set(metrics) == set(task.train_metrics)
    for s in task.evaluation.sets():
        assert s.width <= task.evaluation.longest and (s.lengths <= s.width).all()
        assert all(v.shape[0] == len(s.lengths) for v in s.examples.values())
        examples = s.examples if s.expand is None else jax.vmap(s.expand)({k: v[:8] for k, v in s.examples.items()})
        assert np.asarray(examples["inputs"]).max() < task.vocab_size
    model = SequenceModel(toy_cell(3), task.vocab_size, task.num_outputs)
    (metrics,) = evaluate(task, model, stack_members([model.init(jax.random.key(0))]))
    assert set(metrics) == set(task.evaluation.metrics)
    json.dumps(metrics)
