#!/usr/bin/env bash
# Every task trains a few steps on a device; its run then loads and runs there (and some on the CPU).
#
#     bash scripts/gpu_tasks.sh DIR [DEVICE]       # DEVICE: cuda (default), cpu, mps, cuda:1 ...
#
# Part of scripts/gpu_check.sh (which gives it a time limit); with DEVICE=cpu it is a quick check
# of this script itself on any machine. Runs go under DIR; every command's output is printed.
# Exit status: 0 when every command succeeded, else 1 (the failing commands are named at the end).

set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DIR=${1:?usage: gpu_tasks.sh DIR [DEVICE]}
DEV=${2:-cuda}
PYTHON=${PYTHON:-python}
mkdir -p "$DIR"
failed=()

run() {
    local start=$SECONDS
    printf '\n$ rnnkit %s\n' "$*"
    "$PYTHON" -m rnnkit "$@" || failed+=("rnnkit $*")
    printf '(%ds)\n' "$((SECONDS - start))"
}

quick=(--max-steps 3 --eval-every 3 --quiet --device "$DEV")
# a small text, so that evaluating the text runs takes seconds on a CPU too
"$PYTHON" -c "print('To be, or not to be, that is the question:\n' * 400)" >"$DIR/tiny.txt"
run train text "$DIR/tiny.txt" --out "$DIR/text" --hidden-size 64 --batch-size 8 "${quick[@]}"
run train classify dinner --out "$DIR/classify" --hidden-size 32 "${quick[@]}"
run train tag copy --out "$DIR/tag" --hidden-size 32 "${quick[@]}"
run train translate dates --out "$DIR/translate" --hidden-size 32 "${quick[@]}"
run train forecast airline --out "$DIR/forecast" "${quick[@]}"
run train text "$DIR/tiny.txt" --out "$DIR/text-bf16" --hidden-size 64 --batch-size 8 --precision bf16 "${quick[@]}"

run sample "$DIR/text" --length 40 --device "$DEV"
run eval "$DIR/classify" dinner --device "$DEV"
run eval "$DIR/tag" copy --device "$DEV"
run translate "$DIR/translate" "March 3, 1999" --beam 3 --device "$DEV"
run eval "$DIR/translate" dates --device "$DEV"
run forecast "$DIR/forecast" --samples 20 --device "$DEV"
run eval "$DIR/forecast" airline --backtest --samples 20 --device "$DEV"
run inspect "$DIR/text" "To be, or not to be" --out "$DIR/inspect.html" --device "$DEV"
# runs trained there open anywhere: the same runs on the CPU
run sample "$DIR/text-bf16" --length 40 --device cpu
run translate "$DIR/translate" "March 3, 1999" --beam 3 --device cpu
run forecast "$DIR/forecast" --samples 20 --device cpu

if [ ${#failed[@]} -gt 0 ]; then
    printf '\nFAILED (%d):\n' "${#failed[@]}"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
printf '\nevery task trained on %s and ran there; three of the runs ran on the CPU too\n' "$DEV"
