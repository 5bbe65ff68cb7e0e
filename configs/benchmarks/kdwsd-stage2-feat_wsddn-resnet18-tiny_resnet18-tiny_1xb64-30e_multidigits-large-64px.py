# Benchmark distilled student, staged, stage 2 keeping the feature level
# (beyond the official release; the main job's stage 2 on the CPU demo):
# labels + prediction level + the normalised feature term (weight 7), the
# student starting from stage 1's (tools/benchmarks/accuracy.py sets
# model.student.init_cfg to the finished kd_stage1 run of the same seed).
# Stage 2 trains the baseline's full schedule (30 epochs, warm-up, cosine;
# accuracy.py --student-epochs changes both): on the CPU pilot a 15-epoch
# stage 2 fell below the 30-epoch baseline (54.7 against 58.6 mAP) and a
# 30-epoch one rose above it (65.2), though 30 epochs leave the baseline
# itself far from converged (docs/benchmarks.md section 1, "Schedules, not
# the feature level").
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
