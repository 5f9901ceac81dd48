"""The documentation: every guide page's ``python`` blocks run (a page is one script, in a
fresh process; ``py`` blocks are shown, not run), the examples train, the site builds in
strict mode and renders its API reference in a headless browser, and the package ships
what its pyproject says."""

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "docs" / "index.md", *(ROOT / "docs" / "guide").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _run(args, timeout=600, cwd=ROOT):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_a_guide_pages_python_blocks_run(page):
    blocks = BLOCK.findall(page.read_text())
    if page.name != "experiments.md":  # that page only shows commands
        assert blocks, f"{page} has no runnable python block"
    _run([sys.executable, "-c", "\n\n".join(blocks)])


@pytest.mark.parametrize("script", ["jax_optax.py", "flax_nnx.py", "flax_linen.py"])
def test_an_example_trains(script):
    out = _run([sys.executable, str(ROOT / "examples" / script), "--steps", "150"])
    first, last = map(float, re.match(r"loss ([\d.]+) -> ([\d.]+)", out).groups())
    assert last < 0.7 * first, out  # chance is log 4 = 1.39; the previous token is learnable


@pytest.fixture(scope="module")
def site():
    pytest.importorskip("mkdocs", reason="the docs tools come with the dev extra: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory() as directory:
        _run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", directory], timeout=300)
        yield Path(directory)


def test_the_site_builds_strictly_with_the_api_reference(site):
    page = (site / "api" / "cells" / "index.html").read_text()
    assert "rnnjax.cells.lstm.lstm" in page and "recurrent_kernel_init" in page
    assert (site / "guide" / "nnx" / "index.html").is_file()
    assert not (site / "results").exists()  # docs/results and docs/figures stay out of the site


def test_the_site_renders_in_a_headless_browser(site, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (CI installs Debian's: apt-get install -y chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = _run([browser, *flags, "--dump-dom", (site / "api" / "cells" / "index.html").as_uri()], timeout=120)
    text = re.sub(r"<[^>]+>", " ", dom)
    # rendered by the browser: the theme's navigation and the docstring's parameter table
    assert "rnnjax.memory" in text and "Parameters" in text, text[:2000]
    assert re.search(r"forget_bias\s+float\s+initial value of the \(trainable\) forget-gate", " ".join(text.split()))
    screenshot = tmp_path / "cells.png"
    _run([browser, *flags, "--window-size=1280,900", f"--screenshot={screenshot}",
          (site / "guide" / "getting-started" / "index.html").as_uri()], timeout=120)
    assert screenshot.stat().st_size > 10_000


def test_the_package_lists_every_package_and_ships_the_experiments():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "rnnjax").rglob("__init__.py")}
    assert found | {"rnnjax.experiments"} == listed
    assert config["tool"]["setuptools"]["package-dir"] == {"rnnjax.experiments": "experiments"}
    assert config["project"]["dependencies"] == ["jax>=0.7", "numpy>=1.26"]
    assert (ROOT / "rnnjax" / "py.typed").is_file()


@pytest.mark.slow
def test_a_plain_install_in_a_fresh_venv_is_light_and_runs_cells_and_memories(tmp_path):
    """Downloads jax and numpy from the package index (or pip's cache)."""
    _run([sys.executable, "-m", "venv", str(tmp_path / "venv")])
    python = tmp_path / "venv" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(ROOT)], timeout=1200)
    installed = _run([str(python), "-m", "pip", "list", "--format=freeze"]).lower()
    for heavy in ("flax", "optax", "orbax", "matplotlib", "tensorboardx", "tyro"):
        assert f"\n{heavy}" not in f"\n{installed}", installed
    code = ("import jax, rnnjax\nfrom rnnjax import cells, memory\n"
            "for m in memory.MEMORIES:\n"
            "    cell = memory.augment(cells.lstm(4), memory.MEMORIES[m](), 8)\n"
            "    rnnjax.scan(cell, cell.init(jax.random.key(0), 3), jax.numpy.ones((5, 3)))\n"
            "import importlib.resources\n"
            "print(importlib.resources.files('rnnjax.experiments').joinpath('counting.py').is_file())")
    assert _run([str(python), "-c", code], cwd=tmp_path).strip() == "True"  # the experiments ship
    done = subprocess.run([str(tmp_path / "venv" / "bin" / "rnnjax"), "train", "--help"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and "pip install 'rnnjax[train]'" in done.stderr, done.stderr
