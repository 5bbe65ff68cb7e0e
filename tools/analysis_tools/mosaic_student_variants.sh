#!/usr/bin/env bash
# One change at a time to the mosaics' student of the 230,000-mosaic route
# (docs/benchmarks.md section 1, "Weight averaging and translation on the
# mosaics' student"): each VARIANT is the route's
# finished student config for SEED (mosaic_route.sh SEED's
# ..._mosaicNUM_mask_union_train_EPOCHSe_seedSEED_cache64.py in ROUTE_OUT)
# with one override, trained from scratch into OUT:
#   ema     mmengine's EMAHook (momentum 0.0002, BN statistics averaged
#           too); validation and the checkpoint's ema_state_dict use the
#           average
#   shiftN  each 64 px training image moved by up to N px each way
#           (PreDecodedDataPreprocessor's max_translate_ratio=N/64; shift4:
#           0.0625)
#   sup0    no BCE on the (pseudo-)labels: the masked soft targets alone
#           (the distiller's sup_weight=0)
# Prints each variant's validation curve beside the route's own run. A
# rerun skips what is done and resumes a run cut short. About 30 min per
# variant on 2 AMD EPYC cores (shiftN 15-20% more).
# Environment: ROUTE_OUT (mosaic_route.sh's OUT, default
# work_dirs/benchmarks/x_mosaic), OUT (default
# work_dirs/benchmarks/x_mosaic_variants), NUM (230000), EPOCHS (20),
# BASE (kd_pred_cached_t1_nfref_noflip).
# Usage: bash tools/analysis_tools/mosaic_student_variants.sh SEED VARIANT...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -ge 2 ] || { echo "usage: $0 SEED VARIANT... (ema, shiftN, sup0)" >&2
  exit 1; }
SEED=$1
shift
ROUTE_OUT=$(realpath -m "${ROUTE_OUT:-work_dirs/benchmarks/x_mosaic}")
OUT=$(realpath -m "${OUT:-work_dirs/benchmarks/x_mosaic_variants}")
NUM=${NUM:-230000}
EPOCHS=${EPOCHS:-20}
BASE=${BASE:-kd_pred_cached_t1_nfref_noflip}
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh

route=${BASE}_mosaic${NUM}_mask_union_train_${EPOCHS}e_seed${SEED}_cache64
[ -f "$ROUTE_OUT/configs/$route.py" ] || { echo "missing" \
  "$ROUTE_OUT/configs/$route.py: run tools/analysis_tools/mosaic_route.sh" \
  "$SEED $NUM $EPOCHS first" >&2; exit 1; }
for variant in "$@"; do
  case $variant in ema | shift[1-9] | shift[12][0-9] | shift3[01] | sup0) ;;
    *) echo "unknown VARIANT '$variant': give ema, shiftN (N = 1 to 31" \
      "px, under half the image) or sup0" >&2
      exit 1 ;;
  esac
done

curve() {  # LOG -> its validations' student mAPs, " / "-separated
  grep 'Epoch(val)' "$1" | grep -o 'student/mAP: [0-9.]*' |
    awk '{printf "%s%.2f", (NR > 1 ? " / " : ""), $2} END {print ""}'
}

mkdir -p "$OUT/configs"
for variant in "$@"; do
  name=${route}_$variant
  cfg=$OUT/configs/$name.py
  {
    echo "_base_ = ['$ROUTE_OUT/configs/$route.py']"
    case $variant in
      ema) cat <<'PY'
# the same run with mmengine's EMAHook (weights and BN statistics averaged;
# validation and the checkpoint's ema_state_dict use the average)
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='ClassCheckHook'),
    dict(type='EMAHook', momentum=0.0002, update_buffers=True, priority=49),
]
PY
        ;;
      shift*) cat <<PY
# the same run with each 64 px training image moved by up to ${variant#shift} px each way
# (PreDecodedDataPreprocessor's max_translate_ratio)
model = dict(data_preprocessor=dict(max_translate_ratio=$(awk \
  "BEGIN {print ${variant#shift} / 64}")))
PY
        ;;
      sup0) cat <<'PY'
# the same run without the student's BCE on the (pseudo-)labels: the
# masked soft targets alone (the distiller's sup_weight=0)
model = dict(sup_weight=0.0)
PY
        ;;
    esac
  } > "$cfg"
  train_run "$name" "$OUT/$name" "$cfg"
done

echo "seed $SEED, validation curves (student mAP):"
echo "route: $(curve "$ROUTE_OUT/$route.log")"
for variant in "$@"; do
  echo "$variant: $(curve "$OUT/${route}_$variant.log")"
done
