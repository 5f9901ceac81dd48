"""Sweeps: grids and programs, kill and resume, corrupted checkpoints, 8 devices, 2 processes, reports."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import chex
import jax
import numpy as np
import pytest

from rnnjax.cli import main
from rnnjax.eval.tables import summarise
from rnnjax.train import TrainConfig, build
from rnnjax.train.experiment import Experiment, expand, parse_grid
from rnnjax.train.loop import member_bytes, member_bytes_bound, train_population
from rnnjax.train.programs import plan_programs, population_cap
from rnnjax.train.runs import find_runs, load_run

TINY = TrainConfig.of(
    hidden=4, embedding_dim=2, n_max=6, steps=30, batch_size=8, num_buckets=1, eval_n_max=8, log_every=10
)
REPO = Path(__file__).resolve().parents[1]


def _experiment_file(tmp_path: Path, steps: int, log_every: int = 10) -> Path:
    """A tiny experiment, as a file the CLI (and a subprocess) can load."""
    path = tmp_path / "tiny.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from rnnjax.train import TrainConfig
            from rnnjax.train.experiment import Experiment

            BASE = TrainConfig.of(hidden=4, embedding_dim=2, n_max=6, steps={steps}, batch_size=8,
                                  num_buckets=2, eval_n_max=8, log_every={log_every})
            EXPERIMENT = Experiment("tiny", {{"lstm": BASE}}, seeds=(0, 1), sweep_seeds=(0, 1, 2))
            """
        )
    )
    return path


def _rnnjax(*args, env=None, **kwargs):
    """The CLI in a fresh process (so XLA flags and distributed state are its own)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "rnnjax.cli", *args], env=full_env, cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, **kwargs
    )


def _params(sweep_dir: Path) -> dict:
    return {str(d.relative_to(sweep_dir)): load_run(d).params for d in find_runs(sweep_dir)}


def test_parse_grid_converts_to_field_types():
    grid = parse_grid(["learning_rate=0.01,0.03", "hidden=10,20", "cell=lstm,gru", "hoist=true,false"])
    assert grid == {"learning_rate": (0.01, 0.03), "hidden": (10, 20), "cell": ("lstm", "gru"), "hoist": (True, False)}
    with pytest.raises(ValueError, match="must look like field=value1,value2"):
        parse_grid(["hidden"])
    with pytest.raises(ValueError, match="use --seeds"):
        parse_grid(["seed=1,2"])


def test_shape_changing_values_make_programs_and_the_rest_share_one(tmp_path):
    experiment = Experiment("x", {"a": TINY}, seeds=(0, 1, 2))
    grid = {"hidden": (4, 5), "learning_rate": (0.01, 0.1)}
    members = expand(experiment, tmp_path, grid=grid)
    assert len(members) == 12
    assert members[0].run_dir == tmp_path / "a" / "hidden=4,learning_rate=0.01" / "seed0"
    programs = [members for _, members in plan_programs(members, max_population=100)]
    assert [len(p) for p in programs] == [6, 6]
    assert {m.config.model.hidden for m in programs[0]} == {4} and {m.config.model.hidden for m in programs[1]} == {5}
    assert [len(p) for _, p in plan_programs(members, max_population=4)] == [4, 2, 4, 2]
    parts = build(TINY)
    assert population_cap(parts, 3) == 3  # clearly fits: no compilation
    assert member_bytes_bound(parts) >= member_bytes(parts)
    assert 1 <= population_cap(parts, 10**9) < 10**9
    with pytest.raises(ValueError, match=r"unknown arms \['b'\]"):
        expand(experiment, tmp_path, arms=("b",))


def test_diverged_members_are_counted_and_left_out_of_aggregates():
    def run(seed, n, diverged_at=None):
        results = {"arm": "a", "label": "", "largest_correct_n": n, "final_loss": 0.1 * n,
                   "cross_entropy_difference": 0.01 * n, "diverged_at": diverged_at}
        return SimpleNamespace(config=TINY.replace(seed=seed), results=results)

    (row,) = summarise([run(0, 10), run(1, 30), run(2, 1000, diverged_at=7)])
    assert row["seeds"] == 3 and row["diverged"] == 1
    assert row["largest_correct_n median"] == 20 and row["largest_correct_n best"] == 30
    assert row["final_loss best"] == pytest.approx(1.0)
    assert row["cross_entropy_difference best"] == pytest.approx(0.1)


def test_sweep_writes_hparams_and_report(tmp_path):
    experiment = _experiment_file(tmp_path, steps=20)
    main(["sweep", "--experiment", str(experiment), "--out", str(tmp_path / "out"), "--grid", "learning_rate=0.01,0.05",
          "--no-progress"])
    sweep_dir = tmp_path / "out" / "tiny"
    run_dirs = find_runs(sweep_dir)
    assert len(run_dirs) == 6, "2 learning rates x 3 sweep seeds"
    results = [json.loads((d / "results.json").read_text()) for d in run_dirs]
    assert {r["layout"]["members"] for r in results} == {"map"}, "each member its own program on CPU"
    assert all(list((d / "hparams").glob("events.out.tfevents*")) for d in run_dirs)
    assert not (sweep_dir / ".checkpoints").exists() or not any((sweep_dir / ".checkpoints").iterdir())
    main(["report", str(sweep_dir)])
    assert (sweep_dir / "summary.csv").read_text().count("\n") == 3, "header + one row per learning rate"
    assert (sweep_dir / "accuracy_vs_n.png").stat().st_size > 0


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    experiment = _experiment_file(tmp_path, steps=1500, log_every=100)
    common = ["sweep", "--experiment", str(experiment), "--checkpoint-every", "25", "--no-progress"]
    reference = _rnnjax(*common, "--out", str(tmp_path / "reference"))

    kill_after = random.Random(os.getpid()).randrange(100, 1000, 25)
    victim = _rnnjax(*common, "--out", str(tmp_path / "killed"))
    checkpoints = tmp_path / "killed" / "tiny" / ".checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and victim.poll() is None:
        steps = [int(p.name) for p in checkpoints.glob("*/*") if p.name.isdigit()]
        if steps and max(steps) >= kill_after:
            victim.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert victim.wait() == -signal.SIGKILL, f"the sweep finished before step {kill_after}; nothing was tested"
    assert not find_runs(tmp_path / "killed"), "killed mid-training, no run can be finished"

    resumed = _rnnjax(*common, "--out", str(tmp_path / "killed"), "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "resuming from the checkpoint at step" in err
    out, err = reference.communicate(timeout=600)
    assert reference.returncode == 0, err

    expected, got = _params(tmp_path / "reference" / "tiny"), _params(tmp_path / "killed" / "tiny")
    assert sorted(got) == sorted(expected) and len(got) == 3
    for name in expected:
        chex.assert_trees_all_equal(got[name], expected[name])


def test_unreadable_checkpoint_falls_back_to_the_previous_one(tmp_path):
    members = [TINY.replace(seed=s) for s in (0, 1)]
    reference = train_population(members, progress=False, members="vmap")
    train_population(members, progress=False, checkpoint_dir=tmp_path, checkpoint_every=10, keep=3, members="vmap")
    assert sorted(int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()) == [10, 20, 30]
    for f in (tmp_path / "30").rglob("*"):
        if f.is_file() and f.stat().st_size > 0 and "state" in str(f):
            f.write_bytes(b"\x00" * 7)
    with pytest.warns(UserWarning, match="checkpoint at step 30 is unreadable"):
        resumed = train_population(members, progress=False, checkpoint_dir=tmp_path, checkpoint_every=10, resume=True,
                                   members="vmap")
    for a, b in zip(resumed, reference):
        chex.assert_trees_all_equal(a.params, b.params)
        assert [h["step"] for h in a.history] == [0, 10, 20, 29]


def test_eight_devices_give_the_results_of_one(tmp_path):
    script = textwrap.dedent(
        f"""
        import jax, numpy as np
        from rnnjax.train import TrainConfig
        from rnnjax.train.loop import train_population
        assert jax.device_count() == 8, jax.devices()
        tiny = TrainConfig.of(hidden=4, embedding_dim=2, n_max=6, steps=30, batch_size=8, num_buckets=1, log_every=10)
        members = [tiny.replace(seed=s, learning_rate=0.01 * (s + 1)) for s in range(5)]
        out = train_population(members, progress=False)
        flat = [np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(r.params)]) for r in out]
        np.savez({str(tmp_path / 'eight.npz')!r}, *flat)
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    members = [TINY.replace(seed=s, learning_rate=0.01 * (s + 1)) for s in range(5)]
    one_device = train_population(members, progress=False)
    eight = np.load(tmp_path / "eight.npz")
    for i, r in enumerate(one_device):
        flat = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(r.params)])
        np.testing.assert_allclose(eight[f"arr_{i}"], flat, rtol=1e-5, atol=1e-5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_split_a_vmapped_population_and_agree(tmp_path):
    experiment = _experiment_file(tmp_path, steps=30)
    common = ["sweep", "--experiment", str(experiment), "--no-progress"]
    env = {"RNNJAX_COORDINATOR": f"127.0.0.1:{_free_port()}", "RNNJAX_NUM_PROCESSES": "2"}
    procs = [_rnnjax(*common, "--members", "vmap", "--out", str(tmp_path / "two"),
                     env=env | {"RNNJAX_PROCESS_ID": str(i)}) for i in (0, 1)]
    single = _rnnjax(*common, "--out", str(tmp_path / "one"))
    for p in (*procs, single):
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err

    two = tmp_path / "two" / "tiny"
    trained_by = {d.name: json.loads((d / "results.json").read_text())["layout"]["process"] for d in find_runs(two)}
    assert trained_by == {"seed0": 0, "seed1": 0, "seed2": 1}
    assert (two / "summary.md").exists(), "process 0 writes the report"
    expected = _params(tmp_path / "one" / "tiny")  # mapped: vmapped members agree to float tolerance
    for name, params in _params(two).items():
        chex.assert_trees_all_close(params, expected[name], rtol=1e-5, atol=1e-5)


def test_programs_run_concurrently_each_once_on_its_lane_and_the_first_error_is_raised():
    from rnnjax.train.sweep import run_concurrently

    done = []

    def work(lane, devices, item):
        done.append((lane, devices, item))

    run_concurrently(work, [(i,) for i in range(7)], [["d0"], ["d1"]])
    assert sorted(item for _, _, item in done) == list(range(7))
    assert {(lane, tuple(d)) for lane, d, _ in done} <= {(0, ("d0",)), (1, ("d1",))}

    def fails(lane, devices, item):
        if item == 2:
            raise RuntimeError("item 2 failed")

    with pytest.raises(RuntimeError, match="item 2 failed"):
        run_concurrently(fails, [(i,) for i in range(5)], [["d0"], ["d1"]])
    done.clear()
    run_concurrently(work, [(0,), (1,)], [None])  # one lane: in order
    assert done == [(0, None, 0), (0, None, 1)]

    grouped = []  # a group's items (one program's members: one compilation) stay on one lane

    def slow(lane, devices, name, i):
        time.sleep(0.05)
        grouped.append((name, lane))

    run_concurrently(slow, [("a", 0), ("a", 1), ("b", 0), ("b", 1)], [["d0"], ["d1"]], group=lambda item: item[0])
    lanes_of = {name: {lane for n, lane in grouped if n == name} for name in "ab"}
    assert lanes_of["a"] != lanes_of["b"] and all(len(v) == 1 for v in lanes_of.values())
