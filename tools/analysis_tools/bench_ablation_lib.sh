# Shared by the ablation scripts that start from a finished
# `tools/benchmarks/accuracy.py` work dir (large_schedule_ablation.sh,
# soft_target_temperature_ablation.sh, staged_gain_decomposition.sh,
# transfer_set_distillation.sh, mosaic_transfer_set.sh,
# teacher_swap_students.sh, stage1_seed_students.sh,
# stage1_graft_students.sh, mosaic_route.sh, mosaic_student_variants.sh)
# and data_scaling_probe.sh, and for train_run, spawn and wait_spawned by
# demo_ablation_lib.sh and oicr_teacher_experiment.sh; sourced, not run.
# saved_config needs WORK (the accuracy.py work dir) set, train_run and
# train_once PY.

saved_config() {  # EXPERIMENT SEED -> the config its finished run saved
  local run=$WORK/$1/seed$2
  [ -f "$run/done.json" ] || { echo "missing $run/done.json: run" \
    "tools/benchmarks/accuracy.py --only $1 --seed $2 first" >&2; exit 1; }
  ls "$run"/*.py | head -1
}

map_of() {  # done.json -> its (student/)mAP
  grep -o '"\(student/\)\?mAP": [0-9.]*' "$1" | head -1 | grep -o '[0-9.]*$'
}

last_val_map() {  # training log -> the (student/)mAP of its last validation
  grep 'Epoch(val)' "$1" | tail -1 | grep -o 'mAP: [0-9.]*' | head -1 |
    grep -o '[0-9.]*$'
}

schedule() {  # EPOCHS WARMUP(0|1): cosine to 1e-5, as the benchmark configs;
  # a checkpoint every CKPT_EVERY epochs (default 1: train_run resumes a run
  # cut short from it); validation every VAL_EVERY epochs and after the
  # last (default only after the last; a learning curve in the run's log)
  local warmup=''
  [ "$2" = 1 ] && warmup="dict(type='LinearLR', start_factor=0.01,
    by_epoch=False, begin=0, end=200),"
  printf '%s\n' "train_cfg = dict(max_epochs=$1,
                 val_interval=${VAL_EVERY:-$1})
default_hooks = dict(checkpoint=dict(interval=${CKPT_EVERY:-1}))
param_scheduler = [$warmup
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=$1,
         T_max=$1, eta_min=1e-5, convert_to_iter_based=True)]"
}

train_run() {  # LABEL RUN CONFIG [CFG_OPTIONS...]: train into RUN (log
  # RUN.log) unless RUN.done, printing "LABEL (time)" when it trains; a run
  # cut short resumes from its last checkpoint (its log appended to)
  local label=$1 run=$2 cfg=$3 resume=()
  shift 3
  [ -f "$run.done" ] && return
  echo "$label ($(date +%T))"
  mkdir -p "$(dirname "$run")"
  if [ -f "$run/last_checkpoint" ]; then
    resume=(--resume)
    echo "(resumes from $(cat "$run/last_checkpoint"))"
  else
    : > "$run.log"
  fi
  $PY tools/train.py "$cfg" --work-dir "$run" "${resume[@]}" \
    ${1+--cfg-options "$@"} >> "$run.log" 2>&1 ||
    { echo "failed, see $run.log" >&2; exit 1; }
  touch "$run.done"
}

SPAWNED=()  # the jobs spawn started that wait_spawned has not waited for
spawn() {  # COMMAND ARGS...: run in the background, side by side with the
  # next spawned ones, until wait_spawned
  "$@" &
  SPAWNED+=("$!")
}

wait_spawned() {  # wait for every spawned job; when any failed (a failing
  # train_run has named its log), exit 1 once all have ended, so that no
  # run is left behind and the failure stops the script where it happened
  local pid failed=0 total=${#SPAWNED[@]}
  for pid in ${SPAWNED[@]+"${SPAWNED[@]}"}; do
    wait "$pid" || failed=$((failed + 1))
  done
  SPAWNED=()
  [ "$failed" = 0 ] || { echo "$failed of $total runs side by side" \
    "failed (see above)" >&2; exit 1; }
}

cache_scale_arg() {  # -> "cache_scale=N, " for a PreDecodedDataset when
  # CACHE_SCALE=N is set (its images stored at N px, the student's scale:
  # 1/16 of the bytes of 256 px scenes at 64 px), else nothing
  [ -n "${CACHE_SCALE:-}" ] || return 0
  [[ $CACHE_SCALE =~ ^[1-9][0-9]*$ ]] || { echo "CACHE_SCALE must be a" \
    "positive number of pixels (the student's scale), got" \
    "'$CACHE_SCALE'" >&2; return 1; }
  echo "cache_scale=$CACHE_SCALE, "
}

train_once() {  # NAME CONFIG OUT: train unless OUT/NAME.done; its val mAP
  train_run "$1" "$3/$1" "$2"
  echo "$1: val mAP $(last_val_map "$3/$1.log")"
}

seed_student_map() {  # WORK DIR SEED S -> val mAP of WORK's staged student
  # at SEED after stage-1 seed S (stage1_seed_students.sh's runs in DIR, its
  # $OUT/WORK_NAME/seedSEED; at S = SEED accuracy.py's run in WORK)
  if [ "$4" = "$3" ]; then
    map_of "$1/kd_staged_cached_noflip/seed$3/done.json"
  else
    last_val_map "$2/stage2_seed$4.log"
  fi
}

distinct_seeds() {  # SEED STAGE1_SEEDS -> "SEED S1 S2 ..." (one space
  # between seeds); fails, naming them, when a seed is given twice
  local seeds repeated
  seeds=$(echo $1 $2)  # word-split
  repeated=$(printf '%s\n' $seeds | sort | uniq -d | tr '\n' ' ')
  [ -z "$repeated" ] || { echo "seed(s) ${repeated% } repeated in SEED=$1" \
    "STAGE1_SEEDS=\"$2\": give each seed once" >&2; return 1; }
  echo "$seeds"
}

mean_sd() {  # numbers, one per line, on stdin -> "mean ± sample sd"
  # ("mean (one value)" for one number, which has no sd)
  awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; v=(n>1)?(q-n*m*m)/(n-1):0;
    if (n == 1) printf "%.1f (one value)", m;
    else printf "%.1f ± %.1f", m, sqrt(v>0?v:0)}'
}
