# Shared by the ablation scripts that start from a finished
# `tools/benchmarks/accuracy.py` work dir (large_schedule_ablation.sh,
# soft_target_temperature_ablation.sh, staged_gain_decomposition.sh) and
# data_scaling_probe.sh; sourced, not run. saved_config needs WORK (the
# accuracy.py work dir) set.

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
