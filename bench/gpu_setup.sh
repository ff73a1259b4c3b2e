#!/usr/bin/env bash
# Prepare, on a machine WITH pip access, what `bench/gpu_check.sh` needs on a GPU machine without any:
# the cp312 manylinux x86_64 wheels the GPU image lacks (Ray with what Ray Tune/Train import, Optuna with
# its needs; no W&B: the GPU run uses --wandb disabled), and a copy of the CIFAR-10 subset. All of it
# goes into the ignored folder .gpu/ of this checkout, which the device tool carries (`carry: [".gpu"]`).
#
# Ray's wheel (~79 MB) is over the 64 MiB a device call may carry, so it is unpacked here without its
# Java jars, the dashboard's source maps and its bundled test data, and packed with `xz -9` (~27 MB);
# gpu_check.sh untars it into the same --target folder as the other wheels.
#
#   bash bench/gpu_setup.sh [--data-dir DIR]     # DIR: CIFAR-10 folder (default ../shared/data/cifar10)
#
# Ends with the total size of .gpu/ and of what a device call would carry (tracked files + .gpu/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${NAS_DATA_DIR:-$ROOT/../shared/data/cifar10}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --data-dir) DATA_DIR="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "gpu_setup.sh: error: unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT="$ROOT/.gpu"
LIMIT_MIB=64

# One version of each, the ones this project's CPU environment runs (a second version of a package
# would stop the --no-deps install there). Present on the GPU image already, so not carried: click,
# filelock, msgpack, packaging, protobuf, pyyaml, requests, pandas, pyarrow, fsspec, numpy, tqdm,
# attrs, markupsafe, typing-extensions, aiohttp, grpcio (the GPU image's package list, as the device tool documents it).
RAY=ray==2.60.0
WHEELS=(
    jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1  # ray
    tensorboardX==2.6.5 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0            # ray[tune]
    typing-inspection==0.4.5 typing_extensions==4.16.0  # pydantic needs >= 4.16; the image may have less
    optuna==5.0.0 alembic==1.20.1 Mako==1.4.3 SQLAlchemy==2.1.9 colorlog==6.12.0                   # optuna
)
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
         manylinux2014_x86_64 manylinux1_x86_64; do
    PLATFORMS+=(--platform "$p")
done
pip_download() {
    # --isolated: the host's pip.conf may name constraints for *its* Python, not the GPU machine's.
    python3 -m pip download --isolated --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${PLATFORMS[@]}" -d "$1" "${@:2}"
}

rm -rf "$OUT"
mkdir -p "$OUT/whl" "$OUT/tmp"
echo "== wheels (cp312, manylinux x86_64) -> .gpu/whl"
pip_download "$OUT/whl" "${WHEELS[@]}"
pip_download "$OUT/tmp" "$RAY"

echo "== Ray: unpack, drop what a local Ray Tune/Train run never loads, xz -9 -> .gpu/ray.tar.xz"
RAY_WHL=$(ls "$OUT"/tmp/ray-*.whl)
mkdir -p "$OUT/tmp/ray"
unzip -q "$RAY_WHL" -d "$OUT/tmp/ray"
(
    cd "$OUT/tmp/ray"
    rm -rf ray/jars                                        # Java workers
    find ray/dashboard -name '*.js.map' -delete            # the dashboard UI's source maps
    find . -type d \( -name tests -o -name __pycache__ \) -prune -exec rm -rf {} +
    rm -rf ray/cpp ray/serve/_private/benchmarks ray/rllib 2>/dev/null || true
    rm -rf ./*.data                                        # console scripts: gpu_check.sh calls none
    # pip would write RECORD; we untar instead, so keep the dist-info for importlib.metadata only.
    XZ_OPT=-9 tar -cJf "$OUT/ray.tar.xz" .
)
tar -tJf "$OUT/ray.tar.xz" >"$OUT/ray.files"
for must in ./ray/__init__.py ./ray/_raylet.so ./ray/core/src/ray/gcs/gcs_server ./ray/tune/__init__.py \
            ./ray/train/__init__.py ./ray/core/src/ray/raylet/raylet; do
    grep -qx "$must" "$OUT/ray.files" || { echo "gpu_setup.sh: error: $must missing from the Ray pack" >&2; exit 1; }
done
if grep -q '^./ray/jars/\|\.js\.map$' "$OUT/ray.files"; then
    echo "gpu_setup.sh: error: jars or source maps left in the Ray pack" >&2; exit 1
fi
rm -rf "$OUT/tmp"

echo "== CIFAR-10 subset: $DATA_DIR -> .gpu/cifar10"
mkdir -p "$OUT/cifar10"
SRC="$DATA_DIR"
[[ -d "$SRC/cifar-10-batches-py" ]] && SRC="$SRC/cifar-10-batches-py"
cp "$SRC"/data_batch_[1-5] "$SRC"/test_batch "$OUT/cifar10/"
[[ -f "$SRC/batches.meta" ]] && cp "$SRC/batches.meta" "$OUT/cifar10/"
chmod -R u+w "$OUT/cifar10"

echo "== contents"
ls -la "$OUT" "$OUT/whl"
GPU_BYTES=$(du -sb "$OUT" | cut -f1)
TRACKED_BYTES=$(cd "$ROOT" && git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
UNTRACKED_BYTES=$(cd "$ROOT" && git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
UNTRACKED_BYTES=${UNTRACKED_BYTES:-0}
TOTAL=$((GPU_BYTES + TRACKED_BYTES + UNTRACKED_BYTES))
printf '.gpu/: %.1f MiB; tracked files: %.1f MiB; untracked, not ignored: %.1f MiB\n' \
    "$(echo "$GPU_BYTES/1048576" | bc -l)" "$(echo "$TRACKED_BYTES/1048576" | bc -l)" \
    "$(echo "$UNTRACKED_BYTES/1048576" | bc -l)"
if ((TOTAL > LIMIT_MIB * 1048576)); then
    echo "gpu_setup.sh: error: a device call would carry $TOTAL bytes, over ${LIMIT_MIB} MiB" >&2
    exit 1
fi
printf 'device_carry_mib: %.1f (limit %d; carry [".gpu"])\n' "$(echo "$TOTAL/1048576" | bc -l)" "$LIMIT_MIB"
