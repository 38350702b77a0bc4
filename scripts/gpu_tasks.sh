#!/usr/bin/env bash
# Every task trains a few steps on a device, and its run then loads and runs there and on the CPU.
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

for where in "$DEV" cpu; do
    run sample "$DIR/text" --length 40 --device "$where"
    run eval "$DIR/classify" dinner --device "$where"
    run eval "$DIR/tag" copy --device "$where"
    run translate "$DIR/translate" "March 3, 1999" --beam 3 --device "$where"
    run eval "$DIR/translate" dates --device "$where"
    run forecast "$DIR/forecast" --samples 20 --device "$where"
    run eval "$DIR/forecast" airline --backtest --samples 20 --device "$where"
    run inspect "$DIR/text" "To be, or not to be" --out "$DIR/inspect-$where.html" --device "$where"
done

if [ ${#failed[@]} -gt 0 ]; then
    printf '\nFAILED (%d):\n' "${#failed[@]}"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
printf '\nevery task trained on %s and ran on %s and cpu\n' "$DEV" "$DEV"
