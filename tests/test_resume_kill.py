"""Nothing trained twice: a sweep killed while it writes a program's results resumes
without training a step again; manifests adopt programs, stale ones are ignored."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import rnnjax.train.loop
import rnnjax.train.sweep
from rnnjax.train import TrainConfig
from rnnjax.train.experiment import Experiment, expand, load_experiment
from rnnjax.train.programs import MANIFEST, remove_finished_checkpoints, unfinished_programs, write_manifest
from rnnjax.train.runs import find_runs, finished_with, write_config
from rnnjax.train.sweep import run_experiment

TINY = TrainConfig.of(
    task="anbn", cell="lstm", hidden=4, embedding_dim=2, n_max=6, steps=20, batch_size=8, num_buckets=1,
    eval_n_max=8, log_every=5,
)
REPO = Path(__file__).resolve().parents[1]

KILLED_AFTER_FIRST_SAVE = textwrap.dedent(
    """
    import os, sys
    import rnnjax.train.sweep as sweep

    real = sweep.save_run

    def save_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os._exit(1)

    sweep.save_run = save_then_die
    from rnnjax.train.experiment import load_experiment
    sweep.run_experiment(load_experiment(sys.argv[1]), sys.argv[2], checkpoint_every=5, progress=False,
                         members="vmap")
    """
)


def _experiment_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(
        textwrap.dedent(
            f"""
            from rnnjax.train import TrainConfig
            from rnnjax.train.experiment import Experiment

            EXPERIMENT = Experiment("tiny", {{"lstm": TrainConfig.from_json({TINY.to_json()!r})}}, seeds=(0, 1, 2))
            """
        )
    )
    return path


def _finish(run_dir: Path, cfg: TrainConfig) -> None:
    """Marks ``run_dir`` finished with ``cfg`` (what ``finished_with`` looks at)."""
    write_config(cfg, run_dir)
    (run_dir / "params").mkdir()
    (run_dir / "results.json").write_text("{}")


def test_killed_while_writing_results_resumes_without_training_again(tmp_path, monkeypatch, capfd):
    experiment, out = _experiment_file(tmp_path), tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_FIRST_SAVE, str(experiment), str(out)], env=env,
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 1, killed.stderr
    sweep_dir = out / "tiny"
    (first,) = find_runs(sweep_dir)
    assert first.name == "seed0", "killed after the first member's results, before the others'"
    written = ((first / "results.json").read_text(), (first / "results.json").stat().st_mtime_ns)
    (manifest,) = (sweep_dir / ".checkpoints").glob(f"*/{MANIFEST}")
    assert [e["run_dir"] for e in json.loads(manifest.read_text())] == [f"../../lstm/seed{s}" for s in (0, 1, 2)]

    starts, saved = [], []
    real_loop, real_save = rnnjax.train.loop.run_loop, rnnjax.train.sweep.save_run

    def loop_spy(parts, population, *args, **kwargs):
        starts.append((population.first, len(population.cfgs)))
        return real_loop(parts, population, *args, **kwargs)

    def save_spy(run_dir, *args, **kwargs):
        saved.append(run_dir.name)
        return real_save(run_dir, *args, **kwargs)

    monkeypatch.setattr(rnnjax.train.loop, "run_loop", loop_spy)
    monkeypatch.setattr(rnnjax.train.sweep, "save_run", save_spy)
    runs, _ = run_experiment(load_experiment(str(experiment)), out, checkpoint_every=5, progress=False,
                             members="vmap")

    assert starts == [(TINY.run.steps, 3)], "the killed program, adopted whole, resumed at its last step"
    assert f"resuming from the checkpoint at step {TINY.run.steps}" in capfd.readouterr().err
    assert saved == ["seed1", "seed2"], "the member finished before the kill is not written again"
    assert ((first / "results.json").read_text(), (first / "results.json").stat().st_mtime_ns) == written
    assert [r.run_dir.name for r in runs] == ["seed0", "seed1", "seed2"]
    assert {r.results["layout"]["population"] for r in runs} == {3}
    assert all(len(r.history) == len(runs[0].history) > 0 for r in runs)
    assert not any((sweep_dir / ".checkpoints").iterdir())


def test_manifests_adopt_matching_programs_and_ignore_stale_ones(tmp_path):
    members = expand(Experiment("x", {"a": TINY}, seeds=(0, 1, 2)), tmp_path)
    root = tmp_path / ".checkpoints"
    write_manifest(root / "killed", members)
    write_manifest(root / "other_config", [dataclasses.replace(members[0], config=members[0].config.replace(seed=9))])
    write_manifest(root / "overlapping", members[1:])
    (root / "unreadable").mkdir()
    (root / "unreadable" / MANIFEST).write_text("{not json")
    _finish(members[0].run_dir, members[0].config)

    ((checkpoint_dir, program),) = unfinished_programs(members, root)
    assert checkpoint_dir == root / "killed" and program == members, "the first match, whole and in order"
    assert unfinished_programs(members[1:], root) == [(root / "overlapping", members[1:])]

    for m in members[1:]:
        _finish(m.run_dir, m.config)
    assert unfinished_programs(members, root) == [], "nothing left to train"
    remove_finished_checkpoints(root)
    assert sorted(p.name for p in root.iterdir()) == ["other_config", "unreadable"]
    assert all(finished_with(m.run_dir, m.config) for m in members)


def test_programs_in_threads_save_and_load_finished_runs_without_colliding(tmp_path):
    """Lanes save finished runs from threads while other lanes checkpoint; overlapping
    orbax saves used to collide (a FileExistsError on a temporary folder, or a save that
    hung until orbax's 300 s time-out; 2 of 6 tries of this load before the lock)."""
    import threading

    import numpy as np

    from rnnjax.train.checkpoint import PopulationCheckpointer
    from rnnjax.train.runs import save_run

    params = {"w": np.arange(13 * 40, dtype=np.float32).reshape(13, 40), "b": np.ones(40, np.float32)}
    errors = []

    def save_runs(lane: int) -> None:
        try:
            for i in range(60):
                save_run(tmp_path / f"lane{lane}" / f"run{i}", TINY, params, {"run": i})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def checkpoint() -> None:
        try:
            checkpointer = PopulationCheckpointer(tmp_path / "population", every=1, keep=2)
            for step in range(1, 30):
                checkpointer.save(step, {"params": params}, [[{"step": step}]])
            checkpointer.wait()
            checkpointer.close()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=save_runs, args=(lane,), daemon=True) for lane in range(2)]
    threads.append(threading.Thread(target=checkpoint, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a save hung"
    assert not errors, errors
    runs = find_runs(tmp_path)
    assert len(runs) == 120
    for run_dir in runs:
        assert json.loads((run_dir / "results.json").read_text())["run"] == int(run_dir.name[3:])
