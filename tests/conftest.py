"""Test-session settings: one JAX compilation cache shared by the test workers and the processes they start.

Many tests compile the same small programs (a tiny LSTM's train step, its
evaluation); with a cache that lives for the session each is compiled once.
The cache starts empty every session, so no test sees programs of an earlier
checkout. Each test process starts JAX's backend before any test, so the CLI's
one-device-per-core setting (``rnnjax.devices``) never changes a test process
midway: in-process tests run on one CPU device unless they ask for more.
"""

import os
import shutil
import tempfile


def pytest_configure(config):
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ and not hasattr(config, "workerinput"):
        _share_compilation_cache(config)  # else set by the user, or inherited by an xdist worker from the session
    import jax

    jax.devices()


def _share_compilation_cache(config):
    directory = tempfile.mkdtemp(prefix="rnnjax-test-jax-cache-")
    config._rnnjax_jax_cache = directory
    os.environ.update(JAX_COMPILATION_CACHE_DIR=directory, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def pytest_unconfigure(config):
    directory = getattr(config, "_rnnjax_jax_cache", None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
