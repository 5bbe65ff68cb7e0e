#!/usr/bin/env bash
# Does the refined teacher (OICR) beat WSDDN once the proposals fit the
# digits? (docs/benchmarks.md section 1, "The refined teacher on Selective
# Search proposals"). The benchmark's sliding windows cover few digits
# tightly and OICR's refinement learned WSDDN's wrong top windows. This
# trains both benchmark teachers (accuracy.py's teacher_wsddn and
# teacher_oicr, 10 epochs from the benchmark's reference of the same seed)
# on the first NUM_TRAIN scenes of the large preset with each proposal
# METHOD, evaluates them on its first NUM_VAL val scenes, and prints the
# proposals' recall, each teacher's CorLoc and detection mAP, and where
# each teacher's top box per (image, class) lands. The teachers train one
# after another (two training processes side by side on a 2-core machine ran
# each up to 13x slower); the first that fails stops the probe with its log.
# A rerun skips finished runs.
# Usage: bash tools/analysis_tools/proposal_method_probe.sh \
#   [SEEDS] [METHODS] [OUT]
# e.g. ... "0" "ss windows" (Selective Search needs opencv-contrib, which
# this repository's requirements install; the GPU machine's OpenCV lacks it)
# Environment (besides the sizes below):
#   TEACHERS   the teachers to train (default: teacher_wsddn teacher_oicr)
#   STUDENTS   accuracy.py experiments trained after the teachers, in this
#              order, on the same scenes and proposals (e.g. "baseline_noflip
#              kd_pred_cached_noflip kd_stage1 kd_staged_cached_noflip": does
#              the feature level help once the proposals fit the digits?);
#              their table follows the teachers'
#   OWN_REFERENCE=1  train the reference (the teachers' start, the gap's top)
#              on these scenes instead of linking the benchmark's ($BENCH)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SEEDS=${1:-0}
METHODS=${2:-ss windows}
OUT=$(realpath -m "${3:-work_dirs/benchmarks/x_proposals}")
PY=${PY:-.venv/bin/python}
NUM_TRAIN=${NUM_TRAIN:-4000}
NUM_VAL=${NUM_VAL:-1000}
DATA=${DATA:-data/md_large_${NUM_TRAIN}_${NUM_VAL}}
# the finished benchmark references the teachers start from
BENCH=$(realpath -m "${BENCH:-work_dirs/benchmarks/epochs60}")
WORKERS=${WORKERS:-2}
TEACHERS=${TEACHERS:-teacher_wsddn teacher_oicr}
STUDENTS=${STUDENTS:-}
# EXTRA: more accuracy.py options (the tests pass --tiny)
ACC="tools/benchmarks/accuracy.py --data-root $DATA --num-train $NUM_TRAIN
  --num-val $NUM_VAL --teacher-epochs 10 --workers 1 ${EXTRA:-}"
mkdir -p "$OUT/logs"

for m in $METHODS; do
  # the scenes (the benchmark's first ones: each scene has its own seed)
  # and this method's proposals, once
  $PY $ACC --proposal-method "$m" --work-dir "$OUT/$m" --prepare-only \
    --data-workers "$WORKERS" > "$OUT/logs/prepare_$m.log" 2>&1 ||
    { echo "preparing $m failed, see $OUT/logs/prepare_$m.log" >&2; exit 1; }
done
for seed in $SEEDS; do
  for m in $METHODS; do
    mkdir -p "$OUT/$m/reference"
    if [ "${OWN_REFERENCE:-0}" = 1 ]; then
      $PY $ACC --proposal-method "$m" --work-dir "$OUT/$m" --only reference \
        --seed "$seed" > "$OUT/logs/reference_${m}_seed$seed.log" 2>&1 ||
        { echo "reference failed, see $OUT/logs/reference_${m}_seed$seed.log" \
          >&2; exit 1; }
    elif [ ! -e "$OUT/$m/reference/seed$seed" ]; then
      [ -f "$BENCH/reference/seed$seed/done.json" ] || {
        echo "no finished reference run $BENCH/reference/seed$seed: run" \
          "accuracy.py --only reference --seed $seed there first" >&2
        exit 1
      }
      ln -s "$BENCH/reference/seed$seed" "$OUT/$m/reference/seed$seed"
    fi
    for t in $TEACHERS; do
      log="$OUT/logs/${t}_${m}_seed$seed.log"
      $PY $ACC --proposal-method "$m" --work-dir "$OUT/$m" --only "$t" \
        --seed "$seed" > "$log" 2>&1 ||
        { echo "$t failed, see $log" >&2; exit 1; }
    done
    if [ -n "$STUDENTS" ]; then
      # shellcheck disable=SC2086  # a list of experiment names
      $PY $ACC --proposal-method "$m" --work-dir "$OUT/$m" --only $STUDENTS \
        --seed "$seed" > "$OUT/logs/students_${m}_seed$seed.log" 2>&1 ||
        { echo "students failed, see $OUT/logs/students_${m}_seed$seed.log" \
          >&2; exit 1; }
    fi
  done
done

echo "### proposal recall ($NUM_VAL val scenes, boxes of >= 16 px)"
props=()
for m in $METHODS; do props+=("$DATA/proposals/${m}_val.pkl"); done
$PY tools/analysis_tools/proposal_recall.py \
  "$DATA/annotations/instances_val.json" "${props[@]}" --min-size 16
for m in $METHODS; do
  table=$($PY tools/benchmarks/accuracy.py --aggregate --work-dir "$OUT/$m")
  echo "### teachers on $m proposals"
  # the teacher rows of the first table (the models'), then those of the
  # seed-by-seed comparison of OICR with WSDDN (CorLoc, det mAP), if any
  awk '/^\| model/ {t = 1} t && !/^\|/ {exit} t' <<< "$table" |
    grep -E '^\| (model|teacher)' |
    sed '1a |---|---|---|---|---|---|---|---|---|---|' || true
  paired=$(awk '/^\| OICR run/ {t = 1} t && !/^\|/ {exit} t' <<< "$table")
  if grep -q '^| teacher' <<< "$paired"; then
    echo
    grep -E '^\| (OICR run|teacher)' <<< "$paired" |
      sed '1a |---|---|---|---|---|---|---|---|'
  fi
  if [ -n "$STUDENTS" ]; then
    echo "### students on $m proposals"
    grep -vE '^\| teacher' <<< "$table" || true
  fi
done
seed=${SEEDS%% *}  # the first seed's teachers
echo "### top box per (image, class), seed $seed"
dumps=()
names=()
for m in $METHODS; do
  for t in $TEACHERS; do
    run="$OUT/$m/$t/seed$seed"
    dump="$run/val_predictions.pkl"
    if [ ! -f "$dump" ]; then
      cfg=$(ls "$run"/*.py | head -1)
      ckpt=$(ls "$run"/epoch_*.pth | sort -V | tail -1)
      $PY tools/test.py "$cfg" "$ckpt" --work-dir "$run/test" \
        --out "$dump" > "$OUT/logs/test_${t}_${m}_seed$seed.log" 2>&1
    fi
    dumps+=("$dump")
    names+=("$t-$m")
  done
done
$PY tools/analysis_tools/top_box_report.py "${dumps[@]}" \
  --names "${names[@]}"
