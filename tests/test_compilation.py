"""The persistent compilation cache of the CLI: a second run compiles nothing the first compiled."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp

from rnnjax.compilation import compilations

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
