#!/usr/bin/env bash
# The GPU path in one prepared run (issue 17): on a machine with one CUDA GPU and this checkout (plus
# the .gpu/ folder that bench/gpu_setup.sh prepares), run every CUDA code path once, each step in its
# own time box and independent of the others, and write OUTDIR/gpu_check.json (every figure and every
# step's status) and OUTDIR/gpu_check.log (everything printed). The last line is the summary.
#
#   bash bench/gpu_check.sh OUTDIR [--dry-run]
#
# Nothing is fetched: the wheels in .gpu/whl and the Ray pack .gpu/ray.tar.xz install into /tmp/site
# (--no-index --no-deps); the checkout runs from PYTHONPATH with the machine's own torch (never
# `pip install -e .`, which would ask for another torch); NAS_DATA_DIR is .gpu/cifar10. W&B is off.
# --dry-run: the same steps at tiny sizes on the CPU with this machine's Python ($NAS_PYTHON, else
# python3) and packages, no install; the steps that need CUDA are recorded as skipped.
# Exit status: 0 when no step failed or timed out, else 1 (the JSON and the log are written either way).
#
# Time boxes (seconds; GPU run / dry run). The whole run is also capped at GPU_CHECK_BUDGET_S
# (default 470 s = 7 min 50 s): a step gets at most what is left of that; none starts with < 10 s.
# In the order they run:
#   0_install 60 | 0_env 30 | 1_pytest_gpu 100 | 2a_child_training 90 | 3a_proxy_default 60
#   5_transfer 80 | 4_search_gpus_{1,0.25,0.5} 80 each | 3b_proxy_N2 45 | 2b_child_compile 70
#   6_weight_sharing 25            (dry run: each box x3, whole run capped at 900 s)
# Sized from the first H200 run (2026-11-26), where every CUDA step timed out in 40-60 s boxes: a fresh
# process spends 10-28 s on its first training steps (CUDA and cuDNN warm-up for each new set of conv
# shapes; longest with channels_last and bf16), so each step needs that on top of its work.
# GPU_CHECK_WORK: the scratch folder (default a new /tmp/gpu_check.XXXXXX; run folders, step outputs).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="" DRY=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        -*) echo "gpu_check.sh: error: unknown option $arg" >&2; exit 2 ;;
        *) OUT_DIR="$arg" ;;
    esac
done
[[ -n "$OUT_DIR" ]] || { echo "gpu_check.sh: error: usage: bash bench/gpu_check.sh OUTDIR [--dry-run]" >&2; exit 2; }
mkdir -p "$OUT_DIR" && OUT_DIR="$(cd "$OUT_DIR" && pwd)"
LOG="$OUT_DIR/gpu_check.log"
WORK="${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}"  # short: Ray's socket paths live under /tmp
mkdir -p "$WORK"
SITE="${GPU_CHECK_SITE:-/tmp/site}"
PY="${NAS_PYTHON:-python3}"
if ((DRY)); then BUDGET_S="${GPU_CHECK_BUDGET_S:-900}" SCALE=3; else BUDGET_S="${GPU_CHECK_BUDGET_S:-470}" SCALE=1; fi
START=$(date +%s)
exec > >(tee "$LOG") 2>&1
TEE_PID=$!
cd "$ROOT" || exit 1

export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 WANDB_MODE=disabled PYTHONWARNINGS=ignore
((DRY)) && export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # a shared CPU: no spinning thread pools
if ((DRY)); then
    [[ ":${PYTHONPATH:-}:" == *":$ROOT:"* ]] || export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$ROOT:$SITE"
fi
if [[ -z "${NAS_DATA_DIR:-}" && -d "$ROOT/.gpu/cifar10" ]]; then
    export NAS_DATA_DIR="$ROOT/.gpu/cifar10"  # the carried copy (the device gets only the repository)
else
    export NAS_DATA_DIR="${NAS_DATA_DIR:-$ROOT/../shared/data/cifar10}"
fi
echo "gpu_check: $(date -u +%FT%TZ) root=$ROOT out=$OUT_DIR work=$WORK dry_run=$DRY budget=${BUDGET_S}s"
echo "gpu_check: python=$PY PYTHONPATH=$PYTHONPATH NAS_DATA_DIR=$NAS_DATA_DIR"

# step NAME BOX_S COMMAND...: run COMMAND in a time box, its output in the log and in $WORK/NAME.out;
# exit 0 = ok, 77 = skipped (last line: why), 124/137 = timeout, else failed (last line: why).
step() {
    local name="$1" box=$(( $2 * SCALE )); shift 2
    local left=$(( BUDGET_S - ($(date +%s) - START) - 5 ))
    (( box > left )) && box=$left
    if (( box < 10 )); then
        record "$name" skipped 0 0 "$box" "no time left in the ${BUDGET_S} s budget"
        return
    fi
    echo; echo "=== $name (time box ${box} s): $*"
    local t0=$(date +%s%N)
    timeout -k 10 "$box" "$@" 2>&1 | tee "$WORK/$name.out"
    local rc=${PIPESTATUS[0]}
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local secs="$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    local why
    why="$(grep -v '^\s*$' "$WORK/$name.out" | tail -1 | cut -c1-300)"
    case $rc in
        0) record "$name" ok "$rc" "$secs" "$box" "" ;;
        77) record "$name" skipped "$rc" "$secs" "$box" "$why" ;;
        124|137) record "$name" timeout "$rc" "$secs" "$box" "over its ${box} s time box; last line: $why" ;;
        *) record "$name" failed "$rc" "$secs" "$box" "$why" ;;
    esac
    echo "=== $name: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$WORK/$name.meta") in ${secs%.*} s"
}

record() {  # record NAME STATUS RC SECONDS BOX REASON -> $WORK/NAME.meta (JSON, stdlib python only)
    python3 - "$WORK/$1.meta" "$@" <<'EOF'
import json, sys
path, name, status, rc, secs, box, reason = sys.argv[1:8]
json.dump({"status": status, "rc": int(rc), "seconds": round(float(secs or 0), 1),
           "budget_s": int(box) if box.isdigit() else 0, "reason": reason}, open(path, "w"))
EOF
}

needs_cuda() { if ((DRY)); then record "$1" skipped 77 0 0 "dry run: needs CUDA"; return 1; fi; }

# --- 0: install the carried packages, and record the machine ---------------------------------------
install_carried() {
    [[ -d .gpu/whl && -f .gpu/ray.tar.xz ]] || { echo "no .gpu/whl or .gpu/ray.tar.xz: run bash bench/gpu_setup.sh first and carry .gpu"; return 1; }
    mkdir -p "$SITE" &&
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .gpu/whl/*.whl &&
        "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' .gpu/ray.tar.xz "$SITE" &&
        echo "installed $(ls .gpu/whl | wc -l) wheels and the Ray pack into $SITE"
}
export -f install_carried
export PY SITE DRY WORK
if ((DRY)); then
    record 0_install skipped 77 0 0 "dry run: this machine's packages"
else
    step 0_install 60 bash -c install_carried
fi
step 0_env 30 bash -c '(nvidia-smi || echo "no nvidia-smi") && "$PY" bench/gpu_steps.py env "$WORK/0_env.json"'

# --- 1: the CUDA tests -------------------------------------------------------------------------------
step 1_pytest_gpu 100 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/train/test_gpu.py --junitxml="$WORK/1_pytest_gpu.xml"

# --- 2: child training throughput --------------------------------------------------------------------
if ((DRY)); then
    step 2a_child_training 70 "$PY" bench/child_training.py --json --N 1 --C 4 --batch-size 8 --steps 2 --warmup 1
else
    step 2a_child_training 90 "$PY" bench/child_training.py --json --rows cuda --steps 30 --warmup 10
fi

# --- 3: multi-epoch proxy children: wall time per epoch, GPU utilisation ------------------------------
if ((DRY)); then
    step 3a_proxy_default 40 "$PY" bench/gpu_steps.py proxy "$WORK/3a_proxy_default.json" --epochs 2 --C 4 --batch-size 16 --train-size 64 --val-size 32
    step 3b_proxy_N2 45 "$PY" bench/gpu_steps.py proxy "$WORK/3b_proxy_N2.json" --epochs 1 --N 2 --C 4 --batch-size 16 --train-size 64 --val-size 32
else
    # the search's default proxy (N=1, C=8, batch 32, 2,048 images) for 10 epochs (N=2 at C=32: 3b, last)
    step 3a_proxy_default 60 "$PY" bench/gpu_steps.py proxy "$WORK/3a_proxy_default.json" --epochs 10
fi

# Only on the GPU machine (never in a dry run, nor where nvidia-smi is absent), which runs nothing else:
# on a shared machine `ray stop` would end others' Ray too.
ray_stop() {
    command -v nvidia-smi >/dev/null || return 0
    timeout 30 "$PY" -m ray.scripts.scripts stop --force >/dev/null 2>&1 || true
}

# --- 5: nas transfer with Ray Train, one GPU worker (NCCL), 224 px, a tiny ImageFolder ---------------
transfer() {  # transfer IMAGE_SIZE PER_CLASS GPUS
    "$PY" bench/gpu_steps.py imagefolder "$WORK/imagefolder" --per-class "$2" --size "$1" &&
        "$PY" -m nas.cli.main transfer --genotype nasnet-a --dataset imagenet --N 1 --F 48 \
            --image-size "$1" --batch-size 16 --epochs 2 --workers 1 --gpus-per-worker "$3" \
            --data-dir "$WORK/imagefolder" --out "$WORK/transfer" --wandb disabled --json
}
export -f transfer
if ((DRY)); then
    step 5_transfer 55 bash -c 'transfer 32 8 0'
else
    step 5_transfer 80 bash -c 'transfer 224 48 1'
    ray_stop
fi

# --- 4: nas search on local Ray, children per minute per GPU fraction -------------------------------
search_rate() {  # search_rate GPUS TRIALS [more search flags]
    local gpus="$1" trials="$2" name="4_search_gpus_$1"; shift 2
    "$PY" -m nas.cli.main search --searcher random --trials "$trials" --seed 0 --gpus-per-trial "$gpus" \
        --data-dir "$NAS_DATA_DIR" --results-dir "$WORK/results" --name "gpus-$gpus" --wandb disabled \
        --quiet --json "$@" >"$WORK/$name.stdout" || { cat "$WORK/$name.stdout"; return 1; }
    "$PY" bench/gpu_steps.py search-rate "$WORK/$name.json" "$WORK/$name.stdout" --gpus-per-trial "$gpus"
}
export -f search_rate
if ((DRY)); then
    step 4_search_gpus_0 45 bash -c 'search_rate 0 2 --train-size 64 --val-size 32 --C 4 --batch-size 16 --max-concurrent 1'
    for g in 1 0.5 0.25; do needs_cuda "4_search_gpus_$g"; done
else
    for g in 1 0.25 0.5; do
        step "4_search_gpus_$g" 80 bash -c "search_rate $g 6"
        ray_stop  # a search cut by its time box must not hold the GPU for the next one
    done
fi

# --- 3b, 2b (last: the N=2 proxy, then compiling, which takes long; the steps above matter more) -------
((DRY)) || step 3b_proxy_N2 45 "$PY" bench/gpu_steps.py proxy "$WORK/3b_proxy_N2.json" --epochs 5 --N 2 --C 32 --batch-size 128 --train-size 4096
needs_cuda 2b_child_compile && step 2b_child_compile 70 "$PY" bench/child_training.py --json --rows compile --steps 50 --warmup 10

# --- 6: the weight-sharing supernet, when that mode exists -------------------------------------------
if [[ ! -f bench/weight_sharing.py ]]; then
    record 6_weight_sharing skipped 77 0 0 "not present: bench/weight_sharing.py"
elif ((DRY)); then
    record 6_weight_sharing skipped 77 0 0 "dry run: bench/weight_sharing.py present, run on CUDA only"
else
    step 6_weight_sharing 25 "$PY" bench/weight_sharing.py --quick
fi

# --- summary -----------------------------------------------------------------------------------------
python3 - "$WORK/run.json" "$DRY" "$START" "$BUDGET_S" "$WORK/0_env.json" <<'EOF'
import json, sys, time
path, dry, start, budget, env_file = sys.argv[1:6]
try:
    env = json.load(open(env_file))
except (OSError, ValueError):
    env = {}
json.dump({"dry_run": dry == "1", "wall_s": time.time() - int(start), "budget_s": int(budget),
           "gpu": env.get("gpu"), "torch": env.get("torch"), "date": time.strftime("%FT%TZ", time.gmtime())},
          open(path, "w"))
EOF
echo
python3 bench/gpu_steps.py summarize "$WORK" "$OUT_DIR/gpu_check.json"
rc=$?
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $rc
