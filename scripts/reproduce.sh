#!/usr/bin/env bash
# Regenerates every table and figure that BUILD_NOTES.md quotes, from the experiments' commands.
#
#   scripts/reproduce.sh [--quick] [--runs DIR] [--docs DIR] [--notes FILE] [NAME ...]
#
# For each entry NAME below (all of them by default): runs its command with
# --out RUNS/NAME, copies the report (compact.md, claims.md, report.html and
# every figure) to DOCS/NAME/ with a SOURCE file (command, commit, date,
# wall time), then splices DOCS into the notes: every block
#     <!-- results: NAME/FILE -->  ...  <!-- end results -->
# of NOTES becomes the current DOCS/NAME/FILE (scripts/splice_results.py).
#
# Defaults: RUNS=runs/reproduce, DOCS=docs/results, NOTES=BUILD_NOTES.md.
# --quick runs each entry with its few-step flags into a scratch folder
# (RUNS=DOCS=/tmp/rnnjax-reproduce-quick, no notes unless --notes): it checks
# that every command still runs, not the figures. The CPU times below are for
# the 2-core machine; the long entries are the reduced commands of the notes.
set -euo pipefail

quick=0; runs=""; docs=""; notes=""; names=()
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs="$2"; shift ;;
    --docs) docs="$2"; shift ;;
    --notes) notes="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) names+=("$1") ;;
  esac
  shift
done
if ((quick)); then
  runs="${runs:-/tmp/rnnjax-reproduce-quick}"; docs="${docs:-$runs/docs}"
else
  runs="${runs:-runs/reproduce}"; docs="${docs:-docs/results}"; notes="${notes:-BUILD_NOTES.md}"
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$runs" "$docs"
runs="$(cd "$runs" && pwd)"; docs="$(cd "$docs" && pwd)"

declare -A COMMAND QUICK
ORDER=()
entry() {  # entry NAME "COMMAND" "QUICK FLAGS"
  ORDER+=("$1"); COMMAND[$1]="$2"; QUICK[$1]="$3"
}
few="--seeds 0 --steps 4 --no-progress"
short="$few --n-min 2 --n-max 4 --eval-n-max 6"      # the transduction entries
cfl_short="$few --n-min 4 --n-max 6 --eval-n-max 8"  # the cfl entries
# name                 command                                                             quick flags
entry counting         "rnnjax train --experiment counting"                                 "$few --eval-n-max 20"   # 2-3 min
entry counting_sweep   "rnnjax sweep --experiment counting"                                 "$few --eval-n-max 20"   # 15 min
entry counting_paper   "rnnjax train --experiment counting_paper"                           "$few --eval-n-max 20"   # 30 min: the public code's budget (arms that never fit: all 2000 epochs)
entry doubling_lstm    "rnnjax sweep --experiment doubling_lstm"                            "$few"                   # 3 min
entry qrnn_vs_lstm     "rnnjax train --experiment qrnn_vs_lstm --steps 62500"               "$few --eval-lengths 8 16"  # 5 min; 10 epochs at most (the authors' 100), 3 seeds
entry extraction       "rnnjax train --experiment extraction"                               "$few --arms tomita1-gru tomita2-lstm"  # 4 min
entry ntm              "rnnjax train --experiment ntm"                                      "$few --arms ntm_copy-ntm ntm_copy-lstm"  # 20 min
# the transduction runs of the notes (reduced scale: vocabulary 16, train 8-16, test 17-32)
entry transduction_all "rnnjax train --experiment transduction --seeds 0 1 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 --learning-rate 0.01" \
                       "--steps 4 --seeds 0 --n-min 5 --n-max 6 --eval-n-max 8 --no-progress"  # 36 min (45 arms x 2 seeds); svo_sov needs n >= 5
entry transduction     "rnnjax train --experiment transduction --arms reversal-stack copy-queue copy-deque reversal-deque reversal-lstm1 reversal-lstm2 reversal-lstm4 reversal-lstm8 --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 --optimizer rmsprop --learning-rate 0.001" \
                       "$short"  # 30 min (with the four deep-LSTM depths on reversal)
entry transduction_adam "rnnjax train --experiment transduction --arms reversal-stack copy-queue copy-deque reversal-deque reversal-lstm1 reversal-lstm2 reversal-lstm4 reversal-lstm8 --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 --learning-rate 0.01" "$short"  # 25 min (with the four deep-LSTM depths on reversal)
entry transduction_curriculum "rnnjax train --experiment transduction --arms reversal-stack copy-deque reversal-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 --learning-rate 0.01 --order curriculum" "$short"  # 15 min
entry transduction_hidden16 "rnnjax train --experiment transduction --arms reversal-stack copy-deque reversal-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 3000 --learning-rate 0.01 --hidden 16" "$short"  # 10 min
entry transduction_rmsprop6000 "rnnjax train --experiment transduction --arms reversal-stack copy-deque reversal-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 6000 --optimizer rmsprop --learning-rate 0.001" \
                       "$short"  # 30 min
entry transduction_grefenstette "rnnjax train --experiment transduction --arms reversal-stack copy-deque reversal-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 2000 --optimizer rmsprop --learning-rate 0.001 --hidden 256 --memory-width 256 --embedding-dim 64 --batch-size 10 --clip-norm 1" \
                       "$short"  # 28 min; Grefenstette et al.'s recipe at lr 1e-3
entry transduction_grefenstette_copy "rnnjax train --experiment transduction --arms copy-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 2000 --optimizer rmsprop --learning-rate 0.0005 --hidden 256 --memory-width 256 --embedding-dim 64 --batch-size 10 --clip-norm 1" \
                       "$short"  # 19 min; the deque on copy at the grid's next learning rate
entry transduction_deque_queue_start "rnnjax train --experiment transduction --arms copy-deque reversal-deque --seeds 0 1 2 --symbols 16 --n-min 8 --n-max 16 --eval-n-max 32 --steps 2000 --optimizer rmsprop --learning-rate 0.001 --hidden 256 --memory-width 256 --embedding-dim 64 --batch-size 10 --clip-norm 1 --deque-start queue" \
                       "$short"  # 25 min; the deque started as a queue
# the cfl runs of the notes (train lengths 10-20, test 10-30)
entry cfl_all          "rnnjax train --experiment cfl --n-min 10 --n-max 20 --eval-n-max 30 --steps 600" "$cfl_short"  # 40 min
entry cfl_seeds1500    "rnnjax train --experiment cfl --arms cfl_marked_reversal-lstm cfl_marked_reversal-rns --seeds 0 1 2 --n-min 10 --n-max 20 --eval-n-max 30 --steps 1500" "$cfl_short"  # 25 min
entry cfl              "rnnjax train --experiment cfl --arms cfl_marked_reversal-lstm cfl_marked_reversal-rns --seeds 0 1 2 --n-min 10 --n-max 20 --eval-n-max 30 --steps 2500 --clip-norm 5" "$cfl_short"  # 6 min (18 min before members trained alone)
chomsky_tasks="even_pairs modular_arithmetic parity_check cycle_navigation stack_manipulation reverse_string modular_arithmetic_brackets solve_equation duplicate_string missing_duplicate_string odds_first binary_addition binary_multiplication compute_sqrt bucket_sort"
chomsky_arms() { local t m; for t in $chomsky_tasks; do for m in "$@"; do printf '%s ' "$t-$m"; done; done; }
chomsky_sizes="--hidden 64 --batch-size 32 --eval-n-max 500 --eval-samples 4 --eval-programs 3 --num-buckets 1"
chomsky_reduced="$chomsky_sizes --learning-rate 5e-4"
entry chomsky          "rnnjax train --experiment chomsky --arms $(chomsky_arms rnn lstm stack_rnn tape_rnn)--seeds 0 1 2 --steps 1000 $chomsky_reduced" \
                       "--steps 4 --eval-n-max 44 --eval-samples 2 --no-progress"  # 30 min: the public code's four recurrent models, 3 seeds
entry chomsky_grid     "rnnjax sweep --experiment chomsky --arms $(chomsky_arms rnn lstm stack_rnn tape_rnn)--seeds 0 1 2 --steps 1000 $chomsky_sizes" \
                       "--seeds 0 --steps 4 --eval-n-max 44 --eval-samples 2 --no-progress"  # 91 min: the same over the paper's learning rates {1e-4, 3e-4, 5e-4}
entry chomsky_transformer "rnnjax train --experiment chomsky --arms $(chomsky_arms transformer_none transformer_sin_cos transformer_relative transformer_rotary transformer_alibi)--seeds 0 --steps 1000 $chomsky_reduced" \
                       "--steps 4 --eval-n-max 44 --eval-samples 2 --no-progress"  # 6-7 h: five encodings x 5 blocks, one seed (10-20 min per run on the context-sensitive tasks)
entry chomsky_all      "rnnjax report \$runs/chomsky_grid/chomsky \$runs/chomsky_transformer/chomsky --experiment chomsky" \
                       ""  # 1 min: the two entries above as one table and headline ($runs: the --runs folder)
entry finite_precision "python experiments/finite_precision.py --quick"                     "--samples 1 --exact-depth 4"  # 5 min
# the benchmark tables of the notes (each script's --out writes benchmark.json and table.md);
# docs/results/*_gpu come from benchmarks/gpu.sh on a lent GPU, not from an entry here
entry bench_cells      "python benchmarks/cells.py"                                "--quick"  # 5 min
entry bench_qrnn       "python benchmarks/qrnn.py --layer-max-tokens 300000"       "--quick"  # 8 min
entry bench_chomsky    "python benchmarks/chomsky.py --quick"                      ""         # 5 min
entry bench_chomsky_project "python benchmarks/chomsky.py --project"             ""         # 1 min
entry bench_throughput "python benchmarks/throughput.py"                           "--quick"  # 7 min; --quick skips the main job
entry bench_members    "python benchmarks/members.py"                              "--quick"  # 5 min
entry bench_determinism "python benchmarks/determinism.py --quick"                 ""         # 2 min (CPU)
entry bench_population_cost "python benchmarks/population_cost.py"         "--quick"  # 1 min
entry bench_memory     "python benchmarks/memory.py"                               "--quick"  # 3 min
entry bench_memory_ntm "python benchmarks/memory.py --only ntm tape --lengths 512" "--quick --lengths 64"  # 2 min
entry bench_nondeterministic_stack "python benchmarks/nondeterministic_stack.py"   "--quick"  # 6 min

if ((${#names[@]} == 0)); then names=("${ORDER[@]}"); fi
for name in "${names[@]}"; do
  [[ -v COMMAND[$name] ]] || { echo "reproduce: no entry '$name'; entries: ${ORDER[*]}" >&2; exit 2; }
done

commit="$(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)"
for name in "${names[@]}"; do
  command="${COMMAND[$name]}"
  ((quick)) && command="$command ${QUICK[$name]}"
  out="$runs/$name"
  echo "== $name: $command --out $out"
  start=$(date +%s)
  (cd "$here" && eval "$command --out \"$out\"")
  seconds=$(( $(date +%s) - start ))
  mkdir -p "$docs/$name"
  # the experiment's folder (the one report.html is in), or the script's output folder
  report_dir="$(dirname "$(find "$out" -name report.html -not -path '*/.checkpoints/*' | head -n1)" 2>/dev/null || true)"
  [[ -n "$report_dir" && "$report_dir" != "." ]] || report_dir="$out"
  (cd "$report_dir" && find . \( -name '*.md' -o -name '*.png' -o -name report.html -o -name benchmark.json \) -not -path './*/seed*' \
      -not -path './.checkpoints/*' -exec cp --parents {} "$docs/$name/" \;)
  printf '`%s` (commit %s, %s, %d s)\n' "${COMMAND[$name]}$( ((quick)) && echo " ${QUICK[$name]}")" "$commit" \
      "$(date -u +%Y-%m-%d)" "$seconds" > "$docs/$name/SOURCE"
done

if [[ -n "$notes" ]]; then
  python "$here/scripts/splice_results.py" "$notes" "$docs"
fi
