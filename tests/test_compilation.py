"""The persistent compilation cache of the CLI: a second run compiles nothing the first compiled."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from rnnjax.compilation import compilations
from rnnjax.eval.generalisation import chunk_size, chunks
from rnnjax.train.build import build
from rnnjax.train.experiment import load_experiment
from rnnjax.train.sweep import run_experiment

COUNTED_RUN = """
import sys
from rnnjax.cli import main
from rnnjax.compilation import compilations
_, count = compilations(lambda: main(sys.argv[1:]))
print("compilations", count)
"""


def _cli_compilations(cache, out, *flags) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_PERSISTENT", "JAX_COMPILATION_CACHE"))}
    env["RNNJAX_CACHE_DIR"] = str(cache)
    args = ["train", "--task", "anbn", "--cell", "gru", "--steps", "4", "--eval-n-max", "12", "--no-progress",
            "--out", str(out), *flags]
    done = subprocess.run([sys.executable, "-c", COUNTED_RUN, *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split("compilations")[-1])


def test_a_second_run_recompiles_nothing_and_the_flag_turns_the_cache_off(tmp_path):
    cache = tmp_path / "cache"
    first = _cli_compilations(cache, tmp_path / "a")
    assert first > 5 and any(cache.iterdir())
    assert _cli_compilations(cache, tmp_path / "b") == 0  # another output root: trained and evaluated again
    assert _cli_compilations(tmp_path / "unused", tmp_path / "c", "--no-compilation-cache") == first
    assert not (tmp_path / "unused").exists()


def test_compilations_counts_new_programs_only():
    f, x = jax.jit(lambda x: jnp.sin(x) * 3.0), jnp.ones(17)
    _, count = compilations(lambda: f(x).block_until_ready())
    assert count == 1
    _, again = compilations(lambda: f(x).block_until_ready())
    assert again == 0


@pytest.mark.parametrize("arm", ["lstm_anbn", pytest.param("gru_anbncn", marks=pytest.mark.slow)])
def test_a_main_job_arm_compiles_one_train_program_and_one_evaluation_program_per_width(arm, tmp_path):
    experiment = load_experiment("counting")
    parts = build(experiment.arms[arm])
    chunk = min(256, chunk_size(parts.eval_model, 1, parts.task.evaluation.longest))
    widths = {w for s in parts.task.evaluation.sets() for _, w in chunks(s, min(chunk, len(s.lengths)))}
    _, count = compilations(lambda: run_experiment(experiment, tmp_path, arms=(arm,), overrides={"steps": 20},
                                                   progress=False))
    # initial states, the train program, the checkpoint copy, evaluation, the report's state trace (anbn);
    # a few one-off eager programs of the first run in a process (orbax, key seeding)
    expected = 3 + len(widths) + (arm.endswith("_anbn"))
    assert expected <= count <= expected + 5, (count, expected)
