#!/usr/bin/env bash
# The one prepared GPU check of issue 13: run it on a lent CUDA machine, from the repository root.
#
#     bash scripts/gpu_check.sh        # results under $OUT (a new temporary folder when unset)
#
# It needs no network: this tree's code runs from src/ (after `pip install -e . --no-deps` when
# that works offline), and every step has its own time limit so the whole takes at most ~8
# minutes. Each step writes under $OUT and adds a line to $OUT/summary.txt:
#
#   env.txt          nvidia-smi, Python, torch, CUDA, cuDNN and Triton versions
#   doctor.txt       `rnnkit doctor`: the engine of the fused loops per device (triton on the GPU)
#   pytest.txt       the quick GPU tests: every bench variant under the triton and torch engines
#                    against the naive loop on CUDA (outputs and all gradients), bench on CUDA,
#                    train and sample on CUDA in fp32/bf16/fp16 (tests/test_bench.py,
#                    tests/test_devices.py)
#   bench_cuda.md    `rnnkit bench --device cuda --engines`: every variant, triton and torch
#   bench_cuda.json  engines side by side, against cuDNN's nn.LSTM and the naive loop, at the
#                    target size T=100,B=64,I=H=512 and at T=100,B=32,I=64,H=256, with the
#                    target line
#   bench_graphs.md  four variants on Triton with forward and backward as CUDA graphs, at the
#                    target size (rows triton and triton+graphs)
#   tasks_cuda.txt   every task trained a few steps with --device cuda (text, classify, tag,
#                    translate, forecast), then sample / eval / translate / forecast / inspect
#                    on those runs on the GPU, and three of them on the CPU (scripts/gpu_tasks.sh)
#   pytest_fused.txt tests/test_fused.py's Triton cases on the GPU (every option of every cell,
#                    gradcheck in float64, half precision): ~120 tests, each compiling its own
#                    kernels, so it comes after the benchmark and gets the time that is left
#   bench_compile.md the naive peephole LSTM loop under torch.compile (reduce-overhead, i.e. CUDA
#                    graphs), only when time is left: compiling 100 unrolled steps takes minutes
#
# Exit status: 0 every step ran and passed; 1 a step failed (see summary.txt and its file);
# 3 stopped before any step: no CUDA GPU, or a package missing (it says which).

set -uo pipefail

cd "$(dirname "$0")/.." || exit 3
OUT="${OUT:-$(mktemp -d -t rnnkit-gpu-check.XXXXXX)}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
PYTHON="${PYTHON:-python}"
BUDGET_S=450 # steps 5 and 6 run only in what is left of it
failed=0

say() {
    printf '%s\n' "$*" | tee -a "$SUMMARY"
}

# step NAME LIMIT_S FILE COMMAND...: run COMMAND with a time limit, its output to FILE and stdout.
step() {
    local name=$1 limit=$2 file=$3 start=$SECONDS status
    shift 3
    say "== $name (limit ${limit}s) -> $file"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$file"
    status=${PIPESTATUS[0]}
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        say "   $name: TIMED OUT after $((SECONDS - start))s"
        failed=1
    elif [ "$status" -ne 0 ]; then
        say "   $name: FAILED (exit $status) after $((SECONDS - start))s"
        failed=1
    else
        say "   $name: ok in $((SECONDS - start))s"
    fi
}

say "rnnkit GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), results in $OUT"

# ----- 0. what this machine has; stop cleanly when the GPU or a package is missing -------------
{
    command -v nvidia-smi >/dev/null && nvidia-smi
    "$PYTHON" --version
} >"$OUT/env.txt" 2>&1
if ! "$PYTHON" - >>"$OUT/env.txt" 2>&1 <<'EOF'; then
import importlib.util
import sys

missing = [m for m in ("torch", "triton", "numpy", "safetensors", "tqdm")
           if importlib.util.find_spec(m) is None]
if missing:
    print(f"missing Python packages: {', '.join(missing)} (this machine has no network: "
          "install them from a local wheel cache or use an image that has them)")
    sys.exit(1)
import torch
import triton

print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
      f"{torch.backends.cudnn.version()}, Triton {triton.__version__}")
if not torch.cuda.is_available():
    print("no CUDA GPU is visible to torch: nothing to check here")
    sys.exit(1)
for i in range(torch.cuda.device_count()):
    print(f"cuda:{i}: {torch.cuda.get_device_name(i)}")
EOF
    tail -n 3 "$OUT/env.txt" | tee -a "$SUMMARY"
    say "STOPPED: see $OUT/env.txt"
    exit 3
fi
tail -n 2 "$OUT/env.txt" | tee -a "$SUMMARY"

# ----- 1. this tree's rnnkit -------------------------------------------------------------------
# The editable install gives the `rnnkit` command; it may fail offline (no build backend), which
# does not matter: src/ first on the path makes `python -m rnnkit` run this tree's code either way.
timeout 60 "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/pip.txt" 2>&1 ||
    say "(pip install -e . --no-deps failed, see pip.txt; running from src/ instead)"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
unset TRITON_INTERPRET # real GPU kernels, never the CPU interpreter
if ! "$PYTHON" -c "import rnnkit.cli" >>"$OUT/env.txt" 2>&1; then
    tail -n 3 "$OUT/env.txt" | tee -a "$SUMMARY"
    say "STOPPED: rnnkit does not import (see $OUT/env.txt)"
    exit 3
fi

# ----- 2. doctor --------------------------------------------------------------------------------
step doctor 30 doctor.txt "$PYTHON" -m rnnkit doctor

# ----- 3. the GPU tests -------------------------------------------------------------------------
if "$PYTHON" -c "import pytest" 2>/dev/null; then
    step "GPU tests" 100 pytest.txt "$PYTHON" -m pytest -q -rs -p no:cacheprovider \
        tests/test_bench.py tests/test_devices.py -k "cuda or gpu or triton"
else
    say "== GPU tests: SKIPPED, pytest is not installed"
    failed=1
fi

# ----- 4. the benchmark: engines side by side ---------------------------------------------------
step "bench, engines side by side" 130 bench_cuda.md "$PYTHON" -m rnnkit bench --device cuda \
    --sizes 100,64,512,512 100,32,64,256 --engines --repeats 5 --markdown \
    --save-json "$OUT/bench_cuda.json"

# ----- 4b. CUDA graphs over the fused loops (a capture can upset the device: after the bench) -----
step "bench, CUDA graphs" 80 bench_graphs.md "$PYTHON" -m rnnkit bench --device cuda \
    --sizes 100,64,512,512 --variants lstm_peephole lstm_coupled gru_reset_before jordan \
    --engines triton --graphs --repeats 5 --markdown --save-json "$OUT/bench_graphs.json"

# ----- 4c. every task trains a few steps on the GPU, and its run loads and runs there ----------
step "tasks on the GPU" 150 tasks_cuda.txt bash scripts/gpu_tasks.sh "$OUT/runs"

# ----- 5. every fused kernel option on the GPU, in the time left --------------------------------
left=$((BUDGET_S - SECONDS))
if [ "$left" -ge 60 ] && "$PYTHON" -c "import pytest" 2>/dev/null; then
    step "test_fused on the GPU" "$((left < 200 ? left : 200))" pytest_fused.txt "$PYTHON" -m \
        pytest -q -rs -p no:cacheprovider tests/test_fused.py -k "triton or gpu"
else
    say "== test_fused on the GPU: SKIPPED (${left}s left of the ${BUDGET_S}s budget, or no pytest)"
fi

# ----- 6. optional: the naive loop under torch.compile ------------------------------------------
left=$((BUDGET_S - SECONDS))
if [ "$left" -ge 120 ]; then
    limit=$((left < 200 ? left : 200))
    step "bench --compile reduce-overhead" "$limit" bench_compile.md "$PYTHON" -m rnnkit bench \
        --device cuda --sizes 100,64,512,512 --variants lstm_peephole --engines --repeats 5 \
        --compile reduce-overhead --markdown
else
    say "== bench --compile: SKIPPED, ${left}s left of the ${BUDGET_S}s budget"
fi

say "done in ${SECONDS}s; $([ "$failed" -eq 0 ] && echo 'every step passed' || echo 'a step FAILED')"
printf '\n----- summary (%s) -----\n' "$SUMMARY"
cat "$SUMMARY" # last, so that the tail of the output has it
exit "$failed"
