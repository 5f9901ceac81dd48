"""Reports: compact tables, figures in TensorBoard, the HTML page (and a headless browser's view of it)."""

import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tensorboardX.proto.event_pb2 import Event

from rnnjax.cli import main
from rnnjax.eval.plots import FIGURES, figure_log, save_figure, smoothed_curves, subplots
from rnnjax.eval.tables import Table, by_task_and_model, compact_rows, spread


def fake(arm, seed, diverged=False, **metrics):
    return SimpleNamespace(results={"arm": arm, "label": "", "diverged_at": 3 if diverged else None, **metrics},
                           config=SimpleNamespace(run=SimpleNamespace(seed=seed)), run_dir=Path(f"/x/{arm}/{seed}"))


def test_cells_give_median_and_range_one_number_where_seeds_agree_and_best_for_sweeps():
    assert spread([3, 1, 2]) == "2 (1..3)"
    assert spread([0.5, 0.5]) == "0.500"
    assert spread([0.1, 0.3, 0.2], best=True, lower=True) == "0.100 / 0.200"
    assert spread([]) == "-"


def test_compact_rows_group_by_arm_count_diverged_seeds_and_add_the_baseline_once():
    runs = [fake("lstm", 0, acc=0.9, base=0.5), fake("lstm", 1, acc=0.7, base=0.5),
            fake("lstm", 2, diverged=True, acc=0.0, base=0.5), fake("gru", 0, acc=0.6, base=0.5, steps=40)]
    table = Table((("accuracy", "acc"), ("steps", "steps")), baseline=("majority", lambda m: "base"))
    rows, columns = compact_rows(table, runs)
    assert columns == ["arm", "seeds", "accuracy", "steps"]
    assert rows[0] == {"arm": "lstm", "seeds": "2 of 3", "accuracy": "0.800 (0.700..0.900)", "steps": "-"}
    assert rows[1]["accuracy"] == "0.600" and rows[1]["seeds"] == "1"
    assert rows[2] == {"arm": "majority", "accuracy": "0.500", "steps": "0.500"}
    partly = compact_rows(Table((("steps", "steps"),)), [fake("a", 0, steps=5), fake("a", 1)])[0]
    assert partly[0]["steps"] == "5 [1 of 2]", "a metric some seeds lack says so"


def test_compact_rows_pivot_a_field_into_columns_with_the_papers_value_in_brackets():
    runs = [fake("parity-rnn", 0, score=1.0), fake("parity-rnn", 1, score=0.5), fake("parity-lstm", 0, score=0.25),
            fake("sort-rnn", 0, score=0.75)]
    table = Table((("score", "score"),), rows=by_task_and_model, across="model", best=True,
                  reference=lambda fields, metric: 0.9 if fields["model"] == "rnn" else None)
    rows, columns = compact_rows(table, runs)
    assert columns == ["task", "rnn", "lstm"]
    assert rows == [{"task": "parity", "rnn": "1 / 0.750 (0.900)", "lstm": "0.250"},
                    {"task": "sort", "rnn": "0.750 (0.900)"}]


def _figure(path, runs=()):
    fig, ax = subplots()
    ax.plot([0, 1], [1, 0])
    return save_figure(fig, path, runs)


def _images(log_dir: Path) -> dict:
    """tag -> the images (``Summary.Image``) in the event files of ``log_dir`` (TFRecord:
    length u64, its crc u32, the Event proto, its crc u32)."""
    out: dict[str, list] = {}
    for path in sorted(log_dir.glob("events.out.tfevents*")):
        data, at = path.read_bytes(), 0
        while at < len(data):
            length = int.from_bytes(data[at:at + 8], "little")
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 16 + length
            for value in event.summary.value:
                if value.HasField("image"):
                    out.setdefault(value.tag, []).append(value.image)
    return out


def test_figures_are_logged_on_their_runs_and_a_new_report_replaces_them(tmp_path):
    run = SimpleNamespace(run_dir=tmp_path / "arm" / "seed0")
    for _ in range(2):
        with figure_log(tmp_path) as log:
            _figure(tmp_path / "curves.png")
            _figure(tmp_path / "heads" / "arm-seed0.png", runs=(run,))
    assert log.paths == [tmp_path / "curves.png", tmp_path / "heads" / "arm-seed0.png"]
    own, per_run = _images(tmp_path / FIGURES), _images(run.run_dir / FIGURES)
    assert list(own) == ["curves"] and list(per_run) == ["heads/arm-seed0"]
    assert len(per_run["heads/arm-seed0"]) == 1, "the second report replaced the first one's image"
    assert per_run["heads/arm-seed0"][0].width > 100
    _figure(tmp_path / "outside.png")
    assert list(_images(tmp_path / FIGURES)) == ["curves"], "outside a report nothing is logged"


EXPERIMENT = """
    from rnnjax.eval.claims import Budget, Claim, Deviation
    from rnnjax.eval.plots import save_figure, subplots
    from rnnjax.eval.tables import Table
    from rnnjax.train import TrainConfig
    from rnnjax.train.experiment import Experiment

    BASE = TrainConfig.of(hidden=4, embedding_dim=2, n_max=6, steps=10, batch_size=8, num_buckets=1,
                          eval_n_max=8, log_every=5)

    def report(runs, out_dir):
        for run in runs:
            fig, ax = subplots()
            ax.plot([r.results["final_loss"] for r in runs])
            save_figure(fig, out_dir / "losses" / f"{run.arm}-seed{run.config.run.seed}.png", runs=(run,))
        return "the experiment's note"

    EXPERIMENT = Experiment("NAME", {"lstm": BASE, "gru": BASE.replace(cell="gru")}, seeds=(0, 1),
        report=report, table=Table((("largest n", "largest_correct_n"), ("loss", "final_loss"))),
        measure=lambda run, out_dir: {"doubled_n": 2 * run.results["largest_correct_n"]},
        claims=(Claim("trains", "-", "lstm", "final_loss", 1e9, higher=False, command="rnnjax train",
                      source="Table 1", budget=Budget(800, "100 steps x 8")),),
        deviations=(Deviation("steps", "100 (Table 1)", "10", "a test", "trains less"),))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny experiments trained through the CLI into one runs folder: (root, printed text)."""
    root = tmp_path_factory.mktemp("report")
    paths = []
    for name in ("alpha", "beta"):
        paths.append(root / f"{name}.py")
        paths[-1].write_text(textwrap.dedent(EXPERIMENT.replace("NAME", name)))
    from rnnjax.eval.report import report_directory
    from rnnjax.train.experiment import load_experiment
    from rnnjax.train.sweep import run_experiment

    _, text = run_experiment(load_experiment(str(paths[0])), root / "runs", progress=False)
    run_experiment(load_experiment(str(paths[1])), root / "runs", arms=("gru",), seeds=(0,), progress=False)
    return root, text, paths, report_directory


def test_train_prints_the_compact_table_the_note_and_the_claims_not_the_full_tables(trained):
    root, text, _, _ = trained
    out = root / "runs" / "alpha"
    assert text.splitlines()[1] == "| arm | seeds | largest n | loss |"
    assert "the experiment's note" in text and "Claims" in text and "| trains | - | Table 1 | median" in text
    # 10 steps x 8 examples against the paper's 800: the budget in the claims and under the compact table
    assert "| 1/10 (ours 80 examples, median over seeds; paper's 800 examples = 100 steps x 8) |" in text
    assert "Paper's figures from: Table 1.\nBudget (ours / paper's): lstm: 1/10 (ours 80" in text
    assert "Deviations from the paper's protocol\n| setting | theirs | ours | why | effect |" in text
    assert "| steps | 100 (Table 1) | 10 | a test | trains less |" in text
    assert "final_loss median" not in text, "the wide per-configuration table is written, not printed"
    assert max(map(len, text.splitlines()[:5])) < 100
    for name in ("compact", "runs", "summary", "claims", "deviations"):
        assert (out / f"{name}.csv").exists()
    assert "doubled_n" in (out / "runs.csv").read_text(), "measured metrics reach the per-run table"
    assert len(_images(out / "lstm" / "seed1" / FIGURES)) == 1 and list(_images(out / FIGURES)) == ["accuracy_vs_n"]


def _hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def test_the_page_embeds_every_figure_and_links_only_to_files_that_exist(trained):
    root, _, _, _ = trained
    out = root / "runs" / "alpha"
    page = (out / "report.html").read_text()
    assert page.count("<img src=\"data:image/png;base64,") == 5, "accuracy plot + one per run"
    assert page.count("<table>") == 3 and "<details>" in page and "the experiment&#x27;s note" in page
    assert "<td>Table 1</td>" in page and "<td>1/10 (ours 80 examples" in page, "source and budget per claim"
    assert '<p class="note">Paper&#x27;s figures from: Table 1.' in page, "and under the compact table"
    assert "<th>setting</th><th>theirs</th><th>ours</th><th>why</th><th>effect</th>" in page
    links = _hrefs(page)
    assert "lstm/seed0/" in links and "runs.csv" in links
    assert all((out / link).exists() for link in links), links


def test_a_runs_folder_gets_a_report_per_experiment_and_an_index(trained, capsys):
    root, _, paths, _ = trained
    (root / "experiments").mkdir(exist_ok=True)
    for path in paths:  # files in the working directory's experiments/ are never imported
        (root / "experiments" / path.name).write_text("raise SystemExit('imported')\n")
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        main(["report", "runs"])
        printed = capsys.readouterr().out
        main(["report", "runs/alpha", "--experiment", str(paths[0])])
    finally:
        os.chdir(cwd)
    assert "# alpha" in printed and "# beta" in printed and "Index:" in printed
    assert "Claims" not in printed, "an experiment that is not built in reports as plain runs"
    assert "Claims" in capsys.readouterr().out, "its file given explicitly, its claims are back"
    index = (root / "runs" / "index.html").read_text()
    assert _hrefs(index) == ["alpha/report.html", "beta/report.html"]
    assert (root / "runs" / "beta" / "report.html").exists()


def test_several_folders_report_together_into_one(trained, tmp_path):
    root, _, paths, report_directory = trained
    folders = [root / "runs" / "alpha", root / "runs" / "beta"]
    with pytest.raises(ValueError, match="give --out"):
        report_directory(folders)
    report_directory(folders, str(paths[0]), html=False, out=tmp_path / "both")
    rows = (tmp_path / "both" / "runs.csv").read_text().splitlines()
    alone = (folders[0] / "runs.csv").read_text().splitlines()
    assert len(rows) == len(alone) + 1, "alpha's four runs and beta's one"
    assert (tmp_path / "both" / "claims.md").exists(), "reported as the experiment given, with its claims"


def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="no Chromium (apt install chromium)")
def test_a_headless_browser_renders_the_page_with_its_tables_and_figures(trained):
    root, _, _, _ = trained
    page = root / "runs" / "alpha" / "report.html"
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-figures-loaded="5"' in dom, "every figure decoded and rendered"
    assert "<p class=\"failed\">" not in dom, "the page says some figures did not load"
    assert dom.count("<table>") == 3 and "largest n" in dom and "<th>budget</th>" in dom
    screenshot = root / "page.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={screenshot}",
                    "--window-size=1200,2000", page.as_uri()], capture_output=True, timeout=120, check=True)
    from matplotlib.image import imread

    pixels = imread(screenshot)
    assert pixels.shape[0] == 2000 and np.std(pixels[..., :3]) > 0.05, "the page rendered something"


def test_smoothed_curves_average_windows_and_drop_members_that_stopped():
    long = [(s, float(s)) for s in range(0, 60, 10)]  # values 0, 10, ..., 50
    short = [(s, 1.0) for s in range(0, 40, 10)]  # stopped after step 30
    steps, values = smoothed_curves([long, short], 2)
    np.testing.assert_array_equal(steps, [10, 20, 30, 40, 50])
    np.testing.assert_array_equal(values[0], [5, 15, 25, 35, 45])
    np.testing.assert_array_equal(values[1, :3], [1, 1, 1])
    assert np.isnan(values[1, 3:]).all()
    steps, values = smoothed_curves([long, short[:1]], 20)  # the window shrinks to the shortest curve
    np.testing.assert_array_equal(steps, [0, 10, 20, 30, 40, 50])
