#!/usr/bin/env bash
# The GPU figures of BUILD_NOTES.md in one bounded run (each part has its own time limit, so a slow
# part costs only itself): training throughput of populations x K, the cells against flax and torch,
# and the main job's wall time from scratch and with a warm compilation cache.
#
#   bash benchmarks/gpu.sh OUT_DIR
#
# About 9 minutes at most (an H200: throughput ~150 s, cells ~120 s, main job ~200 s). Writes
# OUT_DIR/{env.txt,throughput.log,cells.log,main_job.log}: each log has one JSON line per row as it is
# measured and ends with the benchmark's JSON report, so a part stopped at its limit keeps its rows.
set -uo pipefail
out="${1:?usage: benchmarks/gpu.sh OUT_DIR}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the benchmarks start several JAX processes on one GPU

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} > "$out/env.txt" 2>&1

timeout 180 python3 benchmarks/throughput.py --populations 1 64 256 1024 --steps-per-call 1 16 --no-main-job \
  > "$out/throughput.log" 2>&1
timeout 140 python3 benchmarks/cells.py --shapes 10x200 128x100 512x1000 > "$out/cells.log" 2>&1
timeout 240 python3 benchmarks/throughput.py --main-job-only > "$out/main_job.log" 2>&1
