#!/usr/bin/env bash
# Runs an experiment's sweep as a Slurm job array: each array task trains its share of the
# experiment's programs (balanced by estimated cost) into one shared output folder. Finished runs
# and runs another task is training are skipped, so a task can be requeued or the array resubmitted
# at any time; each task writes the report of what has finished when it ends, so the last one's is
# complete (or run `rnnjax report OUT/<experiment>` afterwards).
#
#   sbatch --array=0-15 --cpus-per-task=2 scripts/slurm_array.sh --experiment chomsky --out /shared/runs
#
# rnnjax reads SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT itself (the same as --share I/N). The
# output folder must be on a file system every node sees, with working flock (NFS v4, Lustre, GPFS).
#SBATCH --job-name=rnnjax
#SBATCH --output=rnnjax-%A_%a.log
set -euo pipefail
exec rnnjax sweep "$@"
