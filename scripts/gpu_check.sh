#!/usr/bin/env bash
# The CUDA paths CI cannot run, timed on this machine's GPU(s).
#
#   scripts/gpu_check.sh [--out DIR] [--steps LIST] [--identities N] [--epochs N] [--dry-run]
#                        [--require-gpu] [-h|--help]
#
# Steps (default: all, in this order; each prints one line "STEP ok|FAILED seconds figures"):
#   data       SynthFaces stills for the checks (CPU; identities x 4 reals + 4 fakes, 96 px)
#   train_bf16 `fakescope train resnet18` with AMP and channels_last (bf16 where the GPU has it)
#   train_fp16 the same with bf16 reported unsupported, so the fp16 path (GradScaler) runs
#   evaluate   `fakescope evaluate` on the GPU: test split, rows/s
#   mc         `fakescope detect --uncertainty mc` (full MC dropout, 16 passes): images/s
#   mc_head    `fakescope detect --uncertainty mc_head` (head-only MC dropout, 16 passes)
#   detect     `fakescope detect` batching (batch 32, --faces none) over a folder: images/s,
#              the streaming path the service's session uses
#   ray        `fakescope evaluate --backend ray` (Ray gives the task a GPU); needs the ray extra
#   nccl       two-process `torchrun` training over NCCL (only with two or more GPUs)
# Without CUDA it prints why and exits 0 (--require-gpu: exits 3). Exits 1 when any step
# failed, 2 on a usage error. Sized to finish within 8 minutes on one modern GPU (not yet
# measured: see docs/scaling.md). Results: DIR/gpu_check.tsv (step, status, seconds, figures).
set -u

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

die() { echo "gpu_check: $*" >&2; exit 2; }
ALL_STEPS="data train_bf16 train_fp16 evaluate mc mc_head detect ray nccl"
OUT="" STEPS="$ALL_STEPS" IDS=40 EPOCHS=2 DRY=0 REQUIRE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out|--steps|--identities|--epochs) [ $# -ge 2 ] || die "$1 needs a value (see --help)" ;;&
    --out) OUT="$2"; shift 2 ;;
    --steps) STEPS="$(echo "$2" | tr ',' ' ')"; shift 2 ;;
    --identities) IDS="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --require-gpu) REQUIRE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for s in $STEPS; do
  case " $ALL_STEPS " in *" $s "*) ;; *) die "unknown step '$s' (steps: $ALL_STEPS)" ;; esac
done
for v in "$IDS" "$EPOCHS"; do
  case "$v" in ''|*[!0-9]*) die "'$v' is not a whole number" ;; esac
done

PY="${PYTHON:-python}"
FS="$PY -m fakescope.cli.main"
if [ "$DRY" = 0 ]; then
  NGPU="$($PY -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null)"
  if [ -z "$NGPU" ]; then
    echo "gpu_check: cannot import torch with $PY (set PYTHON to the environment's python)" >&2
    exit 2
  fi
  if [ "$NGPU" = 0 ]; then
    echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False): GPU checks skipped"
    [ "$REQUIRE" = 1 ] && exit 3
    exit 0
  fi
else
  NGPU=2
fi
if [ "$DRY" = 1 ]; then OUT="${OUT:-OUT}"; else OUT="${OUT:-$(mktemp -d -t fakescope-gpu-XXXXXX)}"; mkdir -p "$OUT"; fi
DATA="$OUT/synth" MAN="$OUT/synth/manifest.csv" IMGS="$OUT/images"
TRAIN="$FS train resnet18 --set data.manifest=$MAN --set data.image_size=96 --set train.epochs=$EPOCHS --set train.progress=false --set train.device=cuda --set train.amp=true --set train.channels_last=true"
FAILED=0
TSV="$OUT/gpu_check.tsv"
[ "$DRY" = 0 ] && printf 'step\tstatus\tseconds\tfigures\n' > "$TSV"

# run STEP FIGURE-COMMAND -- COMMAND...: time COMMAND; FIGURE-COMMAND (may be empty) prints the
# step's figures from its output file $OUT/STEP.log and its time $secs.
run() {
  local step="$1" figure="$2"; shift 3
  case " $STEPS " in *" $step "*) ;; *) return 0 ;; esac
  if [ "$DRY" = 1 ]; then echo "$step: $*"; return 0; fi
  local t0 t1 status=ok figs=""
  t0=$(date +%s.%N)
  if ! "$@" > "$OUT/$step.log" 2>&1; then status=FAILED; FAILED=1; fi
  t1=$(date +%s.%N)
  local secs; secs=$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")
  if [ "$status" = ok ] && [ -n "$figure" ]; then figs=$(eval "$figure" 2>/dev/null); fi
  [ "$status" = FAILED ] && figs="see $OUT/$step.log: $(tail -n 1 "$OUT/$step.log")"
  printf '%-11s %-6s %7s s  %s\n' "$step" "$status" "$secs" "$figs"
  printf '%s\t%s\t%s\t%s\n' "$step" "$status" "$secs" "$figs" >> "$TSV"
}

per_s() {  # per_s N SECONDS WHAT: "N WHAT, X WHAT/s" (the whole command, start-up included)
  awk -v n="$1" -v s="$2" -v w="$3" 'BEGIN { printf "%d %s, %.1f %s/s", n, w, (s > 0 ? n / s : 0), w }'
}
rows_of() { [ -f "$1" ] && echo $(( $(wc -l < "$1") - 1 )) || echo 0; }

run data "" -- $FS data synth --out "$DATA" --identities "$IDS" --images-per-identity 4 --size 96 --seed 0
run train_bf16 "grep -o 'best auc = [0-9.]*' \$OUT/train_bf16.log | tail -1" -- \
  $TRAIN --out "$OUT/run_bf16"
run train_fp16 "grep -o 'best auc = [0-9.]*' \$OUT/train_fp16.log | tail -1" -- \
  $PY -c "import sys, torch; torch.cuda.is_bf16_supported = lambda *a, **k: False; from fakescope.cli.main import main; sys.argv[0] = 'fakescope'; main(sys.argv[1:])" \
  train resnet18 --set data.manifest=$MAN --set data.image_size=96 --set train.epochs=$EPOCHS --set train.progress=false --set train.device=cuda --out "$OUT/run_fp16"
CKPT="$OUT/run_bf16/best"
run evaluate "per_s \$(rows_of \$OUT/scores.csv) \$secs rows" -- \
  $FS evaluate --model "$CKPT" --manifest "$MAN" --split test --out "$OUT/scores.csv" --bootstrap 0
if [ "$DRY" = 0 ] && [ -f "$MAN" ]; then  # a flat folder of test images for detect
  mkdir -p "$IMGS"
  $PY - "$MAN" "$IMGS" <<'PYEOF'
import shutil, sys
from pathlib import Path
from fakescope.data.manifest import read_manifest, resolve_path
df = read_manifest(sys.argv[1])
df = df[df["split"] == "test"].head(512)
for i, p in enumerate(df["path"]):
    src = resolve_path(df, str(p))
    shutil.copy(src, Path(sys.argv[2]) / f"{i:04d}{src.suffix}")
PYEOF
fi
NIMG=$(ls "$IMGS" 2>/dev/null | wc -l)
run mc "per_s $NIMG \$secs images" -- $FS detect "$IMGS" --model "$CKPT" --faces none --uncertainty mc --samples 16 --jsonl
run mc_head "per_s $NIMG \$secs images" -- $FS detect "$IMGS" --model "$CKPT" --faces none --uncertainty mc_head --samples 16 --jsonl
run detect "per_s $NIMG \$secs images" -- $FS detect "$IMGS" --model "$CKPT" --faces none --batch-size 32 --jsonl
if [ "$DRY" = 1 ] || $PY -c "import ray" 2>/dev/null; then
  run ray "per_s \$(rows_of \$OUT/scores_ray.csv) \$secs rows" -- \
    $FS evaluate --model "$CKPT" --manifest "$MAN" --split test --out "$OUT/scores_ray.csv" --bootstrap 0 --backend ray
else
  case " $STEPS " in *" ray "*) echo "ray         skipped (the ray extra is not installed)";; esac
fi
if [ "$NGPU" -ge 2 ]; then
  run nccl "grep -o 'best auc = [0-9.]*' \$OUT/nccl.log | tail -1" -- \
    $PY -m torch.distributed.run --standalone --nproc_per_node 2 -m fakescope.cli.main train resnet18 \
    --set data.manifest=$MAN --set data.image_size=96 --set train.epochs=$EPOCHS --set train.progress=false --out "$OUT/run_nccl"
else
  case " $STEPS " in *" nccl "*) echo "nccl        skipped (one GPU; needs two)";; esac
fi
[ "$DRY" = 0 ] && echo "results: $TSV"
exit "$FAILED"
