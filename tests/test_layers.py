"""The shape of the package: dependencies flow one way, and nothing dispatches on an output format."""

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import rnnjax

PACKAGE = Path(rnnjax.__file__).parent


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_every_module_leaves_the_matplotlib_backend_alone():
    modules = [m.name for m in pkgutil.walk_packages([str(PACKAGE)], "rnnjax.")]
    code = ("import importlib, matplotlib; matplotlib.use('pdf'); "
            f"[importlib.import_module(m) for m in {modules!r}]; "
            "import sys; print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)")
    assert _run(code) == "pdf False"


def test_automata_and_theory_do_not_import_training_or_evaluation():
    code = ("import sys, rnnjax.automata.extraction, rnnjax.theory; "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('rnnjax.')}))")
    assert _run(code) == str(sorted({"automata", "builders", "cells", "memory", "registry", "theory"}))


def test_theory_calls_the_cells_not_the_package_root():
    for path in (PACKAGE / "theory").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^import rnnjax$|rnnjax\.(scan|trace|layers)\(", text, re.M), path


def test_training_evaluation_and_cli_know_only_the_task_protocol():
    for path in [*(PACKAGE / "train").glob("*.py"), *(PACKAGE / "eval").glob("*.py"), PACKAGE / "cli.py"]:
        text = path.read_text()
        assert "objective" not in text, path
        assert not re.search(r"isinstance\([^)]*(Language|TaggingTask|Transduction|Corpus)", text), path
        assert "probes" not in text, path
