#!/usr/bin/env bash
# Download, on a machine with PyPI, the wheels of every package lmtui and bench/gpu_check.sh need
# that the GPU check machine lacks (it has no network: docs/performance.md, "The GPU check").
#
#   bash bench/gpu_wheels.sh [DEST]           (default DEST: gpu-wheels, git-ignored)
#
# DEST/cp312/ holds the set for the GPU machine (Python 3.12, manylinux x86_64), DEST/cp311/ the
# same versions for Python 3.11, which bench/gpu_rehearsal.sh installs on this CPU machine. Every
# wheel is fetched with --no-deps: each dependency is named below, so nothing else is resolved
# here or there. bench/gpu_check.sh installs DEST/cp3XX/*.whl with
# `pip install --no-index --no-deps --target`.
#
# What the GPU machine already has (KINDS.md of the device tool, 2026-11): Python 3.12, torch 2.11,
# transformers 5.17, accelerate 1.15, tokenizers 0.23.2, safetensors 0.8.0, huggingface_hub
# 1.33, numpy, pandas, pyarrow, fsspec, requests, httpx, xxhash, tqdm, filelock, pyyaml, rich,
# markdown-it-py, pygments, typing-extensions, psutil, matplotlib, scikit-learn, tensorboard,
# nvidia-ml-py, pytest, pytest-timeout, pytest-xdist. What it lacks, and why each is here:
WHEELS=(
    datasets==4.8.5          # corpus reading of Hub/Parquet sources, the run_mlm.py baseline; 4.8 as it
                             # accepts pyarrow >= 21 and huggingface_hub < 2 (5.x wants pyarrow >= 24)
    dill==0.4.1              #   datasets (< 0.4.2)
    multiprocess==0.70.19    #   datasets (< 0.70.20); one wheel per Python version (py311/py312 tags)
    textual==8.2.8           # the TUI (lmtui.tui, imported by the CLI's default command)
    platformdirs==4.14.9     #   textual
    mdit-py-plugins==0.7.0   #   textual
    linkify-it-py==2.2.0     #   textual (markdown-it-py[linkify])
    uc-micro-py==2.0.0       #   linkify-it-py
    textual-plotext==1.0.1   # the TUI's charts
    plotext==5.3.2           #   textual-plotext
    tomli-w==1.2.0           # the frozen project.toml of every run
    tomlkit==0.15.3          # the TUI's edit form keeps comments (lmtui.project.tomledit)
    zstandard==0.25.0        # .zst corpora; compiled: cp311/cp312 manylinux wheels
    shtab==1.13.0            # `lmtui completion`
    optuna==5.1.0            # sweeps as Optuna studies (lmtui.runs.search, controller)
    sqlalchemy==2.1.9        #   optuna's RDB storage (the sweep's SQLite study); compiled: cp311/cp312 wheels
    alembic==1.20.1          #   optuna
    mako==1.4.3              #   alembic (MarkupSafe comes with torch's jinja2 there)
    colorlog==6.12.0         #   optuna
)
SDISTS=(
    seqeval==1.2.2           # entity F1 of CoNLL tasks; PyPI has only its sdist: built here into a pure wheel
)
LIMIT_MIB=64  # what the device tool carries in all (the working tree counts too)

set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-gpu-wheels}
PIP=(python3 -m pip)
mkdir -p "$DEST"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

"${PIP[@]}" wheel -q --no-deps -w "$build" "${SDISTS[@]}"
for py in 3.12 3.11; do
    tag=cp${py/./}
    rm -rf "$DEST/$tag.tmp"
    "${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp --abi "$tag" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST/$tag.tmp" "${WHEELS[@]}"
    cp "$build"/*.whl "$DEST/$tag.tmp/"
    count=$(ls "$DEST/$tag.tmp"/*.whl | wc -l)
    want=$((${#WHEELS[@]} + ${#SDISTS[@]}))
    if [ "$count" != "$want" ]; then
        echo "gpu_wheels: $DEST/$tag.tmp holds $count wheels, $want expected" >&2
        exit 1
    fi
    rm -rf "$DEST/$tag"
    mv "$DEST/$tag.tmp" "$DEST/$tag"   # a folder is complete or absent
done
size=$(du -sm "$DEST" | cut -f1)
echo "gpu_wheels: $(ls "$DEST"/cp312/*.whl | wc -l) wheels each in $DEST/cp312 and $DEST/cp311, ${size} MiB in all"
du -sh "$DEST"/cp312 "$DEST"/cp311
if [ "$size" -ge "$LIMIT_MIB" ]; then
    echo "gpu_wheels: $DEST is ${size} MiB, over the ${LIMIT_MIB} MiB the device tool carries" >&2
    exit 1
fi
