#!/usr/bin/env bash
# Rehearse the GPU check on this CPU machine: it fails whenever bench/gpu_check.sh would fail on
# the GPU machine for a missing package or a file that does not travel.
#
#   bash bench/gpu_wheels.sh                 (once: the carried wheels, gpu-wheels/)
#   bash bench/gpu_rehearsal.sh [WORK]       (default WORK: /tmp/lmtui-gpu-rehearsal)
#
# 1. A virtual environment of its own (no --system-site-packages, no user site, PYTHONPATH
#    cleared) with only what the GPU machine has that lmtui touches: torch, transformers,
#    accelerate, tokenizers, safetensors, huggingface_hub at the GPU machine's versions where this
#    machine can get them, and the other packages of its list (below) unpinned. Kept between
#    rehearsals (WORK/venv) while this list is unchanged.
# 2. A copy of what the device tool sends: the tracked and untracked-not-ignored files of this
#    checkout plus the carried wheels, in WORK/repo, so nothing beside the checkout
#    can be reached, as on the GPU machine.
# 3. bench/gpu_check.sh WORK/out there, on its CPU path, which installs the wheels the way it does
#    on the GPU machine (pip --no-index --no-deps --target). The rehearsal passes when every
#    step passes; it prints the results table.
#
# Where the rehearsal differs from the GPU machine (so a pass here is necessary, not sufficient):
# - Python 3.11 here, 3.12 there: the same wheel versions, built for each (gpu-wheels/cp311, cp312);
# - torch 2.13.0+cpu here (the build on this machine's disk), 2.11.0+cu130 there: no CUDA code runs
#   here, and an API torch 2.13 has and 2.11 lacks would pass here;
# - numpy, pyarrow, pandas, fsspec and the rest of the base list resolve to this index's newest
#   releases, not necessarily the GPU machine's (2026-11 image);
# - the check's CPU path runs the seed/tiny shapes, not BERT-base or ModernBERT-base.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/lmtui-gpu-rehearsal}
WHEELS=$ROOT/gpu-wheels
# The GPU machine's packages that lmtui, its tests and the check import (device tool, KINDS.md);
# pinned to its versions where known and available here.
BASE=(torch==2.13.0+cpu transformers==5.17.0 accelerate==1.15.0 tokenizers==0.23.2 safetensors==0.8.0
      huggingface-hub==1.33.0 numpy pandas pyarrow fsspec requests httpx xxhash tqdm filelock pyyaml rich
      markdown-it-py pygments typing-extensions psutil matplotlib scikit-learn tensorboard nvidia-ml-py
      pytest pytest-timeout pytest-xdist aiohttp)

if ! ls "$WHEELS"/cp311/*.whl > /dev/null 2>&1; then
    echo "gpu_rehearsal: no wheels in $WHEELS/cp311: run bash bench/gpu_wheels.sh first" >&2
    exit 2
fi
mkdir -p "$WORK"
VENV=$WORK/venv
PY=$VENV/bin/python3
stamp=$(printf '%s\n' "${BASE[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.base" 2>/dev/null)" != "$stamp" ]; then
    echo "gpu_rehearsal: building $VENV (the GPU machine's packages, CPU builds)"
    python3 -m venv --clear "$VENV"
    "$PY" -m pip install -q --disable-pip-version-check "${BASE[@]}" 2>&1 \
        | { grep -v "is ignored: it is neither a file" || true; }   # grep finds nothing on a quiet install
    echo "$stamp" > "$VENV/.base"
fi
# Nothing of the carried set may come from the base environment: the check must bring it.
carried=$(for w in "$WHEELS"/cp311/*.whl; do basename "$w" | cut -d- -f1; done)
present=$(env -u PYTHONPATH "$PY" -m pip list --disable-pip-version-check --format=freeze 2>/dev/null \
          | cut -d= -f1 | tr 'A-Z-' 'a-z_')
for name in $carried; do
    if grep -qx "$(echo "$name" | tr 'A-Z-' 'a-z_')" <<< "$present"; then
        echo "gpu_rehearsal: $name came with the base environment; removing it (the wheels must bring it)"
        env -u PYTHONPATH "$PY" -m pip uninstall -q -y "$name"
    fi
done

rm -rf "$WORK/repo" "$WORK/out"
mkdir -p "$WORK/repo"
(cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$WORK/repo"
cp -r "$WHEELS" "$WORK/repo/gpu-wheels"
echo "gpu_rehearsal: $(du -sm "$WORK/repo" | cut -f1) MiB would travel (the device tool carries 64 MiB)"

cd "$WORK/repo"
set +e
env -i HOME="$WORK/home" PATH="$VENV/bin:/usr/bin:/bin" LANG=C.UTF-8 OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" \
    PYTHON="$PY" GPU_CHECK_WHEELS=gpu-wheels/cp311 ${GPU_CHECK_STEPS:+GPU_CHECK_STEPS=$GPU_CHECK_STEPS} \
    bash bench/gpu_check.sh "$WORK/out"
rc=$?
set -e
if [ $rc -eq 0 ]; then
    echo "gpu_rehearsal: passed ($WORK/out/results.md)"
else
    echo "gpu_rehearsal: FAILED (exit code $rc): a failed step above would fail on the GPU machine too" >&2
fi
exit $rc
