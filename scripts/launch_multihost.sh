#!/usr/bin/env bash
# Runs `rnnjax sweep ARGS...` as one process of a multi-host sweep. Mapped members (the default
# without a GPU) make each process a share of the experiment's programs (as --share I/N; see also
# scripts/slurm_array.sh); vmapped members (--members vmap, the GPU default) join jax.distributed
# and train each program's population as one array over every device of every process.
#
#   Slurm (one task per host; jax.distributed reads the Slurm environment):
#     srun --nodes=4 --ntasks-per-node=1 scripts/launch_multihost.sh --experiment counting
#   Explicit coordinator, on host i of N:
#     RNNJAX_COORDINATOR=host0:12355 RNNJAX_NUM_PROCESSES=N RNNJAX_PROCESS_ID=i \
#       scripts/launch_multihost.sh --experiment counting
#   N processes on this machine, over loopback (to try it out):
#     scripts/launch_multihost.sh --local 2 --experiment counting --no-progress
#
# Every process must see the same output directory (--out, default runs/).
set -euo pipefail

if [[ "${1:-}" == "--local" ]]; then
  n="${2:?--local needs a number of processes}"
  shift 2
  port="${RNNJAX_PORT:-12355}"
  pids=()
  for ((i = 0; i < n; i++)); do
    RNNJAX_COORDINATOR="127.0.0.1:${port}" RNNJAX_NUM_PROCESSES="${n}" RNNJAX_PROCESS_ID="${i}" \
      rnnjax sweep "$@" &
    pids+=("$!")
  done
  status=0
  for pid in "${pids[@]}"; do wait "${pid}" || status=1; done
  exit "${status}"
fi

if [[ -z "${RNNJAX_COORDINATOR:-}" && -z "${SLURM_JOB_ID:-}" ]]; then
  echo "launch_multihost.sh: set RNNJAX_COORDINATOR/RNNJAX_NUM_PROCESSES/RNNJAX_PROCESS_ID, run under Slurm, or use --local N" >&2
  exit 2
fi
exec rnnjax sweep "$@"
