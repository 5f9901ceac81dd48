"""Same config, same numbers: a member's results do not depend on what trains beside it,
on the devices or processes, or on a resume; a run folder belongs to one config;
Ctrl-C stops cleanly; bad input is refused before any work; no code runs from data."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from rnnjax.cli import main
from rnnjax.train.experiment import load_experiment
from rnnjax.train.runs import find_runs, load_run

REPO = Path(__file__).resolve().parents[1]
TINY = ["--task", "anbn", "--cell", "lstm", "--hidden", "4", "--embedding-dim", "2", "--n-max", "6", "--eval-n-max",
        "8", "--batch-size", "8", "--num-buckets", "2", "--log-every", "10", "--no-progress"]
LAYOUT = {"layout", "steps_per_second"}
"""results fields that say how a run was trained, not what it computed"""


def _rnnjax(*args, env=None, cwd=REPO):
    """The CLI in a fresh process (its devices, signals and distributed state its own)."""
    return subprocess.Popen([sys.executable, "-m", "rnnjax.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def _finish(*procs, timeout=600):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        outs.append((out, err))
    return outs


def _member(out: Path, seed: int = 0) -> tuple[dict, bytes, str]:
    """``(results without layout fields, params bytes, history)`` of the ad-hoc run of ``seed``."""
    (run_dir,) = [d for d in find_runs(out) if d.name == f"seed{seed}"]
    results = {k: v for k, v in json.loads((run_dir / "results.json").read_text()).items() if k not in LAYOUT}
    params = b"".join(np.asarray(x).tobytes() for x in jax.tree_util.tree_leaves(load_run(run_dir).params))
    return results, params, (run_dir / "history.json").read_text()


def _free_port() -> int:  # the coordinator a vmapped run would join
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_checkpoints(root: Path, proc, count: int = 1, deadline: float = 300) -> None:
    end = time.time() + deadline
    while time.time() < end and proc.poll() is None:
        if len({p.parent for p in root.glob("**/.checkpoints/*/[0-9]*")}) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {count} checkpointed programs appeared under {root} before the run ended")


@pytest.mark.slow  # minutes of CLI processes; run with -m slow
def test_a_member_is_bitwise_the_same_alone_in_populations_on_devices_processes_and_resumed(tmp_path):
    steps = ["--steps", "2000", "--checkpoint-every", "20"]
    alone = _rnnjax("train", *TINY, *steps, "--seeds", "0", "--cpu-devices", "1", "--out", str(tmp_path / "alone"))
    three = _rnnjax("train", *TINY, *steps, "--seeds", "2", "0", "1", "--cpu-devices", "2", "--out",
                    str(tmp_path / "three"))
    _finish(alone, three)
    eight = _rnnjax("train", *TINY, *steps, "--seeds", *map(str, range(8)), "--cpu-devices", "1", "--out",
                    str(tmp_path / "eight"))
    env = {"RNNJAX_COORDINATOR": f"127.0.0.1:{_free_port()}", "RNNJAX_NUM_PROCESSES": "2"}
    two = [_rnnjax("train", *TINY, *steps, "--seeds", "1", "0", "2", "--cpu-devices", "1", "--out",
                   str(tmp_path / "two"), env=env | {"RNNJAX_PROCESS_ID": str(i)}) for i in (0, 1)]
    _finish(eight, *two)
    trained_by = {d.name: json.loads((d / "results.json").read_text())["layout"]["share"]
                  for d in find_runs(tmp_path / "two")}
    assert sorted(trained_by) == ["seed0", "seed1", "seed2"] and set(trained_by.values()) == {"0/2", "1/2"}

    # interrupted on 2 devices once some member has checkpointed, then resumed on 1
    stopped = _rnnjax("train", *TINY, *steps, "--seeds", "0", "1", "2", "3", "--cpu-devices", "2", "--out",
                      str(tmp_path / "resumed"))
    _wait_for_checkpoints(tmp_path / "resumed", stopped)
    stopped.send_signal(signal.SIGINT)
    _, err = stopped.communicate(timeout=300)
    assert stopped.returncode == 130, err
    unfinished = 4 - len(find_runs(tmp_path / "resumed"))
    assert unfinished > 0, "every member finished before the signal; nothing was resumed"
    (_, err), = _finish(_rnnjax("train", *TINY, *steps, "--seeds", "0", "1", "2", "3", "--cpu-devices", "1",
                                "--out", str(tmp_path / "resumed")))
    assert "resuming from the checkpoint at step" in err

    for seed in (0, 1, 2):
        expected = _member(tmp_path / "alone", 0) if seed == 0 else _member(tmp_path / "three", seed)
        for layout in ("three", "eight", "two", "resumed"):
            assert _member(tmp_path / layout, seed) == expected, f"seed {seed} trained in {layout}"
    assert _member(tmp_path / "eight", 3) == _member(tmp_path / "resumed", 3)


def _experiment(tmp_path: Path, steps: int) -> Path:
    """Two arms (two programs, so two lanes on two devices), three seeds each."""
    path = tmp_path / "pair.py"
    path.write_text(textwrap.dedent(f"""
        from rnnjax.train import TrainConfig
        from rnnjax.train.experiment import Experiment

        BASE = TrainConfig.of(hidden=4, embedding_dim=2, n_max=6, steps={steps}, batch_size=8, num_buckets=2,
                              eval_n_max=8, log_every=50)
        EXPERIMENT = Experiment("pair", {{"lstm": BASE, "gru": BASE.replace(cell="gru")}}, seeds=(0, 1, 2))
        """))
    return path


@pytest.mark.slow  # minutes of CLI processes; run with -m slow
def test_the_first_sigint_stops_every_lane_with_a_checkpoint_a_report_and_the_command_that_continues(tmp_path):
    experiment = _experiment(tmp_path, steps=4000)
    command = ["train", "--experiment", str(experiment), "--checkpoint-every", "50", "--cpu-devices", "2",
               "--no-progress"]
    reference = _rnnjax(*command, "--out", str(tmp_path / "reference"))
    _finish(reference)
    victim = _rnnjax(*command, "--out", str(tmp_path / "stopped"))
    _wait_for_checkpoints(tmp_path / "stopped", victim, count=2)
    victim.send_signal(signal.SIGINT)
    signalled = time.time()
    out, err = victim.communicate(timeout=300)
    assert victim.returncode == 130, err
    assert time.time() - signalled < 60, "each lane stops after its current call"
    assert "Traceback" not in err, err
    assert "Continue with:" in err and f"--experiment {experiment}" in err
    assert "not finished and not in this report" in out
    checkpoints = list((tmp_path / "stopped" / "pair" / ".checkpoints").glob("*/[0-9]*"))
    assert len({p.parent for p in checkpoints}) >= 2, "both lanes saved where they stopped"
    assert len(find_runs(tmp_path / "stopped")) < 6

    (_, err), = _finish(_rnnjax(*command, "--out", str(tmp_path / "stopped")))
    assert "resuming from the checkpoint at step" in err
    for run_dir in find_runs(tmp_path / "reference"):
        twin = tmp_path / "stopped" / run_dir.relative_to(tmp_path / "reference")
        strip = lambda d: {k: v for k, v in json.loads((d / "results.json").read_text()).items()  # noqa: E731
                           if k not in LAYOUT}
        assert strip(twin) == strip(run_dir)
        assert (twin / "history.json").read_text() == (run_dir / "history.json").read_text()


def test_a_run_folder_of_another_config_is_refused_and_replaced_only_when_asked(tmp_path, capsys):
    out = tmp_path / "out"
    experiment = ["train", "--experiment", "counting", "--arms", "lstm_anbn", "--seeds", "0", "--eval-n-max", "20",
                  "--hidden", "4", "--no-progress", "--out", str(out)]
    main([*experiment, "--steps", "5"])
    run_dir = out / "counting" / "lstm_anbn" / "seed0"
    five = json.loads((run_dir / "results.json").read_text())
    with pytest.raises(SystemExit) as refused:
        main([*experiment, "--steps", "30"])
    assert refused.value.code == 2
    message = capsys.readouterr().err
    assert "another config" in message and "steps 5 there, 30 here" in message and "--overwrite" in message
    assert json.loads((run_dir / "results.json").read_text()) == five, "a refusal changes nothing"

    real_evaluate = __import__("rnnjax.train.sweep", fromlist=["evaluate"]).evaluate

    def failing(*args, **kwargs):
        raise RuntimeError("evaluation failed")

    sweep = sys.modules["rnnjax.train.sweep"]
    sweep.evaluate = failing
    try:
        with pytest.raises(RuntimeError, match="evaluation failed"):
            main([*experiment, "--steps", "30", "--overwrite"])
    finally:
        sweep.evaluate = real_evaluate
    assert not (run_dir / "results.json").exists(), "nothing of the 5-step run survives into the 30-step one"
    main([*experiment, "--steps", "30"])
    assert "resuming from the checkpoint at step 30" in capsys.readouterr().err
    thirty = json.loads((run_dir / "results.json").read_text())
    assert json.loads((run_dir / "config.json").read_text())["run"]["steps"] == 30
    assert json.loads((run_dir / "history.json").read_text())[-1]["step"] == 29
    assert thirty["config_id"] != five["config_id"] and thirty["final_loss"] != five["final_loss"]


def test_an_unreadable_run_is_named_and_trained_again_and_left_out_of_reports(tmp_path, capsys):
    command = ["train", *TINY, "--steps", "20", "--seeds", "0", "1", "--out", str(tmp_path)]
    main(command)
    first, second = find_runs(tmp_path)
    good = _member(tmp_path, 0)
    (first / "results.json").write_text("garbage")
    main(command)
    assert f"{first}/results.json is not valid JSON (" in capsys.readouterr().err
    assert _member(tmp_path, 0) == good
    for f in (second / "params").rglob("*"):
        if f.is_file():
            f.write_bytes(b"\0")
    main(["report", str(tmp_path / "adhoc")])
    out, err = capsys.readouterr()
    assert f"{second}/params cannot be restored" in err and "left out of the report" in err
    assert "| 1 |" in out, "the report counts the one readable seed"


def test_a_second_process_skips_the_runs_the_first_is_training(tmp_path):
    command = ["train", *TINY, "--steps", "3000", "--checkpoint-every", "20", "--out", str(tmp_path)]
    first = _rnnjax(*command)
    _wait_for_checkpoints(tmp_path, first)
    second = _rnnjax(*command)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "is being trained by another process; skipped here" in err
    assert "1 of 1 runs are not finished" in out
    _finish(first)
    history = json.loads(next(iter(find_runs(tmp_path))).joinpath("history.json").read_text())
    assert [h["step"] for h in history] == sorted({h["step"] for h in history}), "every point logged once"


BAD = [
    (["--seeds", "-1"], "seed must be in 0..4294967295"),
    (["--seeds", "4294967296"], "seed must be in 0..4294967295"),
    (["--seeds", "0", "0"], "--seeds names 0 more than once"),
    (["--share", "2/2"], "--share must be I/N with 0 <= I < N, got 2/2"),
    (["--share", "x/2"], "--share must be I/N with 0 <= I < N, got 'x/2'"),
    (["--grid", "hidden=4,4"], "--grid hidden names 4 more than once"),
    (["--steps", "10000000000"], "steps must be below 2**31"),
    (["--eval-n-max", "1000000000"], "eval-n-max"),
    (["--batch-size", "100000000"], "lower --batch-size"),
    (["--learning-rate", "inf"], "learning_rate must be a finite number"),
    (["--clip-norm", "nan"], "clip_norm must be a finite number"),
    (["--stop-loss", "nan"], "stop_loss must be a finite number"),
    (["--cpu-devices", "0"], "--cpu-devices must be >= 1"),
    (["--cpu-devices", "-1"], "--cpu-devices must be >= 1"),
    (["--max-population", "0"], "--max-population must be >= 1"),
    (["--max-population", "-1"], "--max-population must be >= 1"),
    (["--checkpoint-every", "0"], "--checkpoint-every must be >= 1"),
    (["--task", "reverse_string", "--eval-programs", "0"], "eval_programs must be >= 1"),
    (["--task", "reverse_string", "--eval-samples", "0"], "eval_samples must be >= 1"),
    (["--task", "copy", "--eval-samples", "-2"], "eval_samples must be >= 1"),
    (["--task", "cfl_dyck2", "--pool-size", "0"], "pool_size must be >= 1"),
    (["--task", "cfl_dyck2", "--eval-samples", "0"], "eval_samples must be >= 1"),
    (["--task", "anbn_sigma_star_prefixes", "--eval-samples", "0"], "eval_samples must be >= 1"),
]


@pytest.mark.parametrize(("flags", "message"), BAD, ids=[" ".join(f) for f, _ in BAD])
def test_bad_input_is_refused_in_one_line_before_any_work(flags, message, tmp_path, capsys):
    argv = ["train", "--task", "anbn", "--steps", "3", "--no-progress", "--out", str(tmp_path), *flags]
    argv = argv if "--task" not in flags else [a for i, a in enumerate(argv) if i not in (1, 2)]
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnjax: error:") and "\n" not in err and message in err, err
    assert not list(tmp_path.rglob("config.json")), "refused before any run folder was written"


def test_a_config_file_missing_fields_or_of_a_newer_version_is_refused(tmp_path):
    from rnnjax.train import TrainConfig

    fields = json.loads(TrainConfig.of(cell="gru").to_json())
    del fields["model"]["cell"]
    with pytest.raises(ValueError, match=r"config group 'model': missing \['cell'\]"):
        TrainConfig.from_json(json.dumps(fields))
    with pytest.raises(ValueError, match="config version 99 is not one this rnnjax reads"):
        TrainConfig.from_json(json.dumps({**fields, "version": 99}))


def test_no_code_runs_from_a_runs_folder(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "ran"
    (tmp_path / "experiments").mkdir()
    for name in ("counting", "mine"):
        (tmp_path / "experiments" / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(tmp_path)
    main(["train", *TINY, "--steps", "5", "--out", "counting"])
    main(["report", "."])
    main(["report", "counting"])
    assert load_experiment("counting").name == "counting"
    with pytest.raises(ValueError, match="to run experiments/mine.py, pass its path"):
        load_experiment("mine")
    assert not marker.exists(), "a file in the folder was imported"


def test_every_registered_model_builds_and_steps_with_its_defaults():
    from rnnjax.models import MODELS
    from rnnjax.train import TrainConfig, build
    from rnnjax.train.loop import batch_loss

    for model in MODELS.names():
        for task in ("anbn", "copy", "reverse_string", "marked_reversal", "parity_check"):
            parts = build(TrainConfig.of(task=task, model=model))
            loss = batch_loss(parts.task, parts.model, 2, parts.buckets[0].max_len)
            params = jax.eval_shape(parts.model.init, jax.random.key(0))
            value = jax.eval_shape(loss, params, jax.random.key(0), 1, 1)[0]
            assert value.shape == () and np.issubdtype(value.dtype, np.floating), (model, task)


def test_an_unreadable_compilation_cache_entry_is_replaced(tmp_path):
    script = textwrap.dedent("""
        import warnings, jax, numpy as np
        from rnnjax.compilation import compilations, use_persistent_cache
        use_persistent_cache()
        x = np.ones(3, np.float32)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, count = compilations(lambda: jax.jit(lambda x: jax.numpy.sin(x) * 3)(x).block_until_ready())
        print(count, sum("Error reading persistent compilation cache" in str(w.message) for w in caught))
        """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}  # the tests' own cache
    env["RNNJAX_CACHE_DIR"] = str(tmp_path)

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run() == ["1", "0"], "compiled and written"
    assert run() == ["0", "0"], "read back"
    for entry in tmp_path.glob("*-cache"):
        entry.write_bytes(entry.read_bytes()[:20])  # cut short, as by a full disk
    assert run() == ["1", "1"], "unreadable: JAX warns and compiles"
    assert run() == ["0", "0"], "the compiled program replaced the unreadable entry"


def test_a_long_evaluation_shows_its_progress(capsys, monkeypatch):
    import rnnjax.eval.generalisation as generalisation
    from rnnjax.train import TrainConfig, build
    from rnnjax.train.loop import init_population

    real = generalisation.tqdm
    monkeypatch.setattr(generalisation, "tqdm", lambda *a, **k: real(*a, **{**k, "delay": 0}))
    parts = build(TrainConfig.of(task="anbn", hidden=4, embedding_dim=2, n_max=6, eval_n_max=8))
    params = init_population(parts, [parts.config])["state"].params
    generalisation.evaluate(parts.task, parts.eval_model, params)
    assert "evaluating anbn probes" in capsys.readouterr().err


def test_shares_started_as_separate_processes_train_disjoint_runs_and_report_as_one(tmp_path):
    experiment = _experiment(tmp_path, steps=60)
    command = ["train", "--experiment", str(experiment), "--cpu-devices", "1", "--no-progress"]
    one = _rnnjax(*command, "--out", str(tmp_path / "one"))
    shares = [_rnnjax(*command, "--share", f"{i}/2", "--out", str(tmp_path / "shared")) for i in (0, 1)]
    _finish(one, *shares)
    trained = {d.relative_to(tmp_path / "shared"): json.loads((d / "results.json").read_text())["layout"]["share"]
               for d in find_runs(tmp_path / "shared")}
    assert len(trained) == 6 and sorted(set(trained.values())) == ["0/2", "1/2"]
    main(["report", str(tmp_path / "shared" / "pair"), "--experiment", str(experiment)])
    for table in ("compact.md", "summary.md", "claims.md"):
        if (tmp_path / "one" / "pair" / table).exists():
            assert (tmp_path / "shared" / "pair" / table).read_text() == (tmp_path / "one" / "pair" / table).read_text()


def test_a_full_disk_is_reported_once_with_its_path(tmp_path, monkeypatch, capsys):
    import errno
    import threading

    import rnnjax.train.sweep as sweep

    def full(run_dir, *args, **kwargs):
        worker = threading.Thread(target=lambda: (_ for _ in ()).throw(
            OSError(errno.ENOSPC, "No space left on device", str(run_dir / "events"))))
        worker.start()
        worker.join()
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "params"))

    monkeypatch.setattr(sweep, "save_run", full)
    with pytest.raises(SystemExit) as stopped:
        main(["train", *TINY, "--steps", "5", "--out", str(tmp_path)])
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "no space left" in line]) == 1 and "Traceback" not in "".join(err)
    assert err[-1].startswith("rnnjax: error: no space left on the device writing ") and err[-1].count("/params")


def test_a_finished_program_releases_its_compiled_programs(tmp_path, monkeypatch):
    import rnnjax.train.sweep as sweep

    released = []
    real = sweep.release_programs
    monkeypatch.setattr(sweep, "release_programs", lambda parts: (real(parts), released.append(dict(parts.programs))))
    sweep.run_experiment(load_experiment(str(_experiment(tmp_path, steps=20))), tmp_path / "out", progress=False)
    assert released == [{}, {}], "each of the two programs dropped its train and init programs when it finished"
