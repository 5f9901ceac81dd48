#!/usr/bin/env bash
# The GPU figures of BUILD_NOTES.md in one bounded run (each part has its own time limit, so a slow
# part costs only itself).
#
#   bash benchmarks/gpu.sh OUT_DIR [PART ...]
#
# Parts (default: throughput cells main_job, the figures recorded on 2026-12-04):
#   throughput   populations x K of the main job's LSTM (~150 s on an H200)
#   cells        the cells against flax and torch (~120 s)
#   main_job     the main job's wall time from scratch and with a warm compilation cache (~200 s)
#   determinism  --xla_gpu_deterministic_ops: repeatability, cross-layout difference, cost (<= 240 s)
#   qrnn         the QRNN's associative scan against the sequential one (<= 120 s)
#   chomsky      the benchmark's models per step (the public code cannot be installed on the lent
#                machine: ours only), a vmapped population of 1 and 256 of its LSTM, the grid's
#                projected device-hours (<= 150 s)
#   memory       the memories per step (<= 120 s)
# `bash benchmarks/gpu.sh OUT determinism qrnn chomsky memory` is issue 34's set (~10 min at most).
# Writes OUT_DIR/env.txt and OUT_DIR/<part>.log: each log has one JSON line per row as it is measured
# and ends with the benchmark's JSON report, so a part stopped at its limit keeps its rows.
set -uo pipefail
out="${1:?usage: benchmarks/gpu.sh OUT_DIR}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the benchmarks start several JAX processes on one GPU

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, jax.devices())"
  python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
} > "$out/env.txt" 2>&1

parts=("${@:2}")
((${#parts[@]})) || parts=(throughput cells main_job)
for part in "${parts[@]}"; do
  case "$part" in
    throughput) timeout 180 python3 benchmarks/throughput.py --populations 1 64 256 1024 --steps-per-call 1 16 \
                  --no-main-job ;;
    cells) timeout 140 python3 benchmarks/cells.py --shapes 10x200 128x100 512x1000 ;;
    main_job) timeout 240 python3 benchmarks/throughput.py --main-job-only ;;
    determinism) timeout 240 python3 benchmarks/determinism.py --population 64 --steps 500 ;;
    qrnn) timeout 120 python3 benchmarks/qrnn.py --quick ;;
    chomsky) timeout 150 python3 benchmarks/chomsky.py --project --populations 1 256 ;;
    memory) timeout 120 python3 benchmarks/memory.py --quick ;;
    *) echo "gpu.sh: no part '$part'" >&2; exit 2 ;;
  esac > "$out/$part.log" 2>&1
done
