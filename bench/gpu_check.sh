#!/usr/bin/env bash
# The one-shot GPU check: what lmtui does on one H100/H200, in one command of at most 8 minutes.
#
#   bash bench/gpu_check.sh OUT_DIR
#
# Writes OUT_DIR/results.md (one row per step, then the measurements and the targets),
# OUT_DIR/steps.tsv (step, status, exit code, seconds, limit) and OUT_DIR/<step>.log for every
# step; runs, caches and the installed wheels go under OUT_DIR/work. A step that fails (or runs
# past its time limit) is recorded with why, and the next step still runs; the exit code is 1
# when any step failed. Steps:
#   wheels               install the carried wheels (bench/gpu_wheels.sh) with pip --no-index --no-deps
#                        --target OUT_DIR/work/site; lmtui itself comes from this checkout (PYTHONPATH)
#   environment          GPU, driver, Python, torch, CUDA and package versions; every lmtui module
#                        imported; the corpus written (the Python Language Reference, pydoc_data.topics)
#   gpu-tests            pytest -m gpu tests/gpu (document-masked FlexAttention, bf16 autocast, NVML
#                        inventory + queue, checkpoint save/resume on CUDA); without CUDA: tests/gpu
#                        on the CPU (their CUDA cases skip)
#   bench-bert-base      lmtui bench --shape bert-base (sequence 128, bf16) against the run_mlm.py baseline
#   modernbert-document  ModernBERT-base (22 layers) at sequence 1024, packing = "document" (FlexAttention)
#   modernbert-concat    the same with packing = "concat" (SDPA)
#   bench-bert-base-compile  bench-bert-base with --compile (torch.compile)
# On CUDA the steps have 480 s together (each its own limit too, and at most what is left).
# Without CUDA every step runs its CPU path: the seed/tiny shapes, a few steps each, so the script,
# its steps and its table are checked on any machine (CI, bench/gpu_rehearsal.sh).
#
# Environment:
#   PYTHON            the interpreter (default python3)
#   GPU_CHECK_WHEELS  the wheel folder (default gpu-wheels/cpXY for this Python; none there: nothing installed)
#   GPU_CHECK_STEPS   comma-separated steps to run (default all; the others are recorded as skipped)
#   GPU_CHECK_LIMITS  per-step time limits in seconds, e.g. "gpu-tests=60,bench-bert-base=120"
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
# in order of what matters most: a step late in the list gets what the budget has left
STEPS=(wheels environment gpu-tests bench-bert-base modernbert-document modernbert-concat bench-bert-base-compile)

# The settings of MODE (cuda or cpu): time limits, the bench options, the tests, the ModernBERT shape.
configure() {
    if [ "$MODE" = cuda ]; then
        BUDGET=480   # 8 minutes for every step together; a step gets at most what is left
        declare -gA LIMIT=([wheels]=30 [environment]=30 [gpu-tests]=90 [bench-bert-base]=120
                           [modernbert-document]=100 [modernbert-concat]=80 [bench-bert-base-compile]=150)
        BENCH=(--shape bert-base --precision bf16 --steps 200 --max-eval-samples 512)
        TESTS=(-m gpu tests/gpu)
        MB_SIZE=(base 1024 32 16 60 10 bf16 cuda 22)   # size seq batch micro steps logging precision device layers
    else
        BUDGET=0     # no overall budget on a CPU: a shared machine is slow, only hangs are cut
        declare -gA LIMIT=([wheels]=120 [environment]=120 [gpu-tests]=600 [bench-bert-base]=600
                           [modernbert-document]=600 [modernbert-concat]=600 [bench-bert-base-compile]=900)
        BENCH=(--shape seed --steps 4 --batch 8 --max-lines 300 --max-eval-samples 16)
        TESTS=(tests/gpu)
        MB_SIZE=(tiny 128 8 8 6 2 no cpu 2)
    fi
    local item overrides
    IFS=, read -ra overrides <<< "${GPU_CHECK_LIMITS:-}"
    for item in "${overrides[@]}"; do
        [ -n "$item" ] && LIMIT[${item%%=*}]=${item#*=}
    done
}

# Run step $1 (the function step_$1, in a process of its own) with its time limit: its output to
# OUT/$1.log, its row to steps.tsv.
step() {
    local name=$1 limit=${LIMIT[$1]} began rc status
    if [[ $SELECTED != *",$name,"* ]]; then
        printf '%s\tskipped\t-\t0\t%s\tnot in GPU_CHECK_STEPS\n' "$name" "$limit" >> "$OUT/steps.tsv"
        return
    fi
    if [ "$BUDGET" -gt 0 ]; then
        local left=$((BUDGET - ($(date +%s) - START)))
        if [ "$left" -lt 10 ]; then
            printf '%s\tskipped\t-\t0\t%s\tthe %s s budget is spent\n' "$name" "$limit" "$BUDGET" >> "$OUT/steps.tsv"
            echo "== $name: skipped (the ${BUDGET} s budget is spent)"
            return
        fi
        [ "$left" -lt "$limit" ] && limit=$left
    fi
    echo "== $name (at most ${limit} s)"
    began=$(date +%s)
    echo "# gpu_check step $name ($MODE), limit $limit s, started $(date -u +%FT%TZ)" > "$OUT/$name.log"
    GPU_CHECK_TOKEN="$$-$name" timeout -k 10 "$limit" bash "$ROOT/bench/gpu_check.sh" --step "step_${name//-/_}" \
        "$OUT" < /dev/null >> "$OUT/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "# gpu_check: stopped at its $limit s limit" >> "$OUT/$name.log"
    fi
    status=ok
    if [ $rc -ne 0 ]; then
        status=failed
        FAILED=1
        stop_runs "$WORK/$name"
        tail -5 "$OUT/$name.log" | sed 's/^/   | /'
    fi
    kill_leftovers "$$-$name" "$OUT/$name.log"
    printf '%s\t%s\t%s\t%s\t%s\t\n' "$name" "$status" "$rc" "$(($(date +%s) - began))" "$limit" >> "$OUT/steps.tsv"
    echo "   $status (exit code $rc) in $(($(date +%s) - began)) s; log: $OUT/$name.log"
}

# A timed-out `lmtui run` leaves its detached driver running: stop every run under folder $1.
stop_runs() {
    local run
    for run in "$1"/runs/*/ "$1"/*/runs/*/; do
        [ -f "$run/run.json" ] && "$PY" -m lmtui stop "$run" --force --wait 10 >> "$OUT/stopped.log" 2>&1
    done
    return 0
}

# Kill what step $1 started and left running, so the next step has the GPU to itself: a driver
# or a baseline started in a session of its own outlives `timeout`, but it inherited the step's
# GPU_CHECK_TOKEN. Noted in log $2.
kill_leftovers() {
    local environ pid left=()
    for environ in /proc/[0-9]*/environ; do
        pid=${environ#/proc/}
        pid=${pid%/environ}
        if grep -qzx "GPU_CHECK_TOKEN=$1" "$environ" 2> /dev/null; then
            left+=("$pid")
        fi
    done
    if [ ${#left[@]} -gt 0 ]; then
        echo "# gpu_check: killed the step's leftover processes ${left[*]}" >> "$2"
        kill -9 "${left[@]}" 2> /dev/null
    fi
    return 0
}

step_wheels() {
    local tag wheels
    tag=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
    wheels=${GPU_CHECK_WHEELS:-gpu-wheels/$tag}
    if ! ls "$wheels"/*.whl > /dev/null 2>&1; then
        echo "no wheels in $wheels (bench/gpu_wheels.sh): the packages must come from the environment"
        return 0
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --disable-pip-version-check \
        --upgrade --target "$WORK/site" "$wheels"/*.whl || return 1
    ls "$WORK/site"
}

step_environment() {
    if command -v nvidia-smi > /dev/null; then
        echo "nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1)"
    else
        echo "nvidia-smi: none (no nvidia-smi)"
    fi
    "$PY" - "$WORK/data" <<'EOF' || return 1
"""Versions, the device, every lmtui module imported, and the corpus written."""
import importlib
import json
import pkgutil
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

import lmtui

env = {"python": platform.python_version(), "executable": sys.executable, "torch": torch.__version__,
       "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    env.update(gpu=torch.cuda.get_device_name(0), capability=f"{p.major}.{p.minor}", gpu_memory_mib=p.total_memory >> 20,
               multiprocessors=p.multi_processor_count, flex_attention=importlib.util.find_spec(
                   "torch.nn.attention.flex_attention") is not None)
for name in ("transformers", "accelerate", "tokenizers", "safetensors", "huggingface-hub", "datasets", "numpy",
             "pyarrow", "textual", "nvidia-ml-py", "pytest"):
    try:
        env[name] = version(name)
    except PackageNotFoundError:
        env[name] = None
broken = []
for info in pkgutil.walk_packages(lmtui.__path__, "lmtui."):
    if info.name.endswith("__main__"):  # `python -m lmtui` itself: importing it opens the TUI
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:  # a missing package shows here, before a step needs it
        broken.append(f"{info.name}: {type(exc).__name__}: {exc}")
env["lmtui_modules_broken"] = broken
print(json.dumps(env, indent=1))
(Path(sys.argv[1]).parent / "environment.json").write_text(json.dumps(env))

# The corpus: the Python Language Reference (pydoc_data/topics.py, on every Python), every 20th
# topic held out for validation; one paragraph per line, as run_mlm.py's text files are read.
from pydoc_data.topics import topics

data = Path(sys.argv[1])
data.mkdir(parents=True, exist_ok=True)
lines = {"train": [], "valid": []}
for k, key in enumerate(sorted(topics)):
    paragraphs = [" ".join(p.split()) for p in topics[key].split("\n\n")]
    lines["valid" if k % 20 == 0 else "train"] += [p for p in paragraphs if p]
for split, rows in lines.items():
    (data / f"{split}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{split}.txt: {len(rows)} lines, {sum(map(len, rows)):,} characters")
sys.exit(1 if broken else 0)
EOF
}

step_gpu_tests() {
    "$PY" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
}

bench() {  # $1: work folder; the rest: extra options
    local folder=$1
    shift
    "$PY" -m lmtui bench "${BENCH[@]}" --modes group_texts --corpus "$WORK/data/train.txt,$WORK/data/valid.txt" \
        --work-dir "$folder" "$@"
}
step_bench_bert_base() { bench "$WORK/bench-bert-base"; }
step_bench_bert_base_compile() { bench "$WORK/bench-bert-base-compile" --compile; }

modernbert() {  # $1: packing
    local folder=$WORK/modernbert-$1
    mkdir -p "$folder"
    cat > "$folder/mb.toml" <<EOF
# written by bench/gpu_check.sh: ModernBERT-base (22 layers, 768 hidden, GLU 1152) on the Python
# Language Reference, packing = "$1"
[project]
name = "mb-$1"
output_dir = "runs"
cache_dir = "$WORK/cache"

[corpus]
train_files = ["{stdlib}/pydoc_data/topics.py"]
format = "python"
document_delimiter = "blank_line"
validation_split = 0.05

[tokenizer]
kind = "byte_level_bpe"
vocab_size = 6000  # what the Reference gives at min_frequency 2 (projects/demo.toml)

[model]
architecture = "modernbert"
size = "${MB_SIZE[0]}"
config_overrides = { num_hidden_layers = ${MB_SIZE[8]} }

[training]
max_seq_length = ${MB_SIZE[1]}
packing = "$1"
recipe = "modernbert"
batch_size = ${MB_SIZE[2]}
micro_batch_size = ${MB_SIZE[3]}
max_steps = ${MB_SIZE[4]}
logging_steps = ${MB_SIZE[5]}
eval_steps = ${MB_SIZE[4]}
save_steps = ${MB_SIZE[4]}
max_eval_samples = 32

[eval]
after_pretraining = false

[hardware]
device = "${MB_SIZE[7]}"
mixed_precision = "${MB_SIZE[6]}"
dataloader_num_workers = 2
EOF
    (cd "$folder" && "$PY" -m lmtui run mb.toml)
}
step_modernbert_document() { modernbert document; }
step_modernbert_concat() { modernbert concat; }

if [ "${1:-}" = --step ]; then  # one step, in a process of its own (under `timeout`)
    OUT=$3 WORK=$3/work MODE=$GPU_CHECK_MODE
    configure
    "$2"
    exit
fi
if [ $# -lt 1 ]; then
    echo "usage: bash bench/gpu_check.sh OUT_DIR" >&2
    exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd) || { echo "gpu_check: cannot create $1" >&2; exit 2; }
WORK=$OUT/work
rm -rf "$WORK" "$OUT"/*.log "$OUT/steps.tsv" "$OUT/results.md"
mkdir -p "$WORK"
: > "$OUT/steps.tsv"
START=$(date +%s)
if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    MODE=cuda
else
    MODE=cpu
fi
export GPU_CHECK_MODE=$MODE
configure
SELECTED=",${GPU_CHECK_STEPS:-$(IFS=,; echo "${STEPS[*]}")},"
FAILED=0
echo "gpu_check: $MODE, results in $OUT"

step wheels
# lmtui from this checkout, then the carried packages, then the interpreter's own
export PYTHONPATH="$ROOT:$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
for name in "${STEPS[@]:1}"; do
    step "$name"
done

"$PY" "$ROOT/bench/gpu_results.py" "$OUT" "$MODE" || { echo "gpu_check: the results table failed" >&2; FAILED=1; }
echo "gpu_check: $(($(date +%s) - START)) s in all; $OUT/results.md"
exit $FAILED
