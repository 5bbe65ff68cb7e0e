# Benchmark distilled student, staged: stage 2, labels + prediction level,
# the student starting from stage 1's (tools/benchmarks/accuracy.py sets
# model.student.init_cfg to the finished kd_stage1 run of the same seed): the
# feature-keeping stage 2 (which holds the schedule) without the feature term.
_base_ = [
    './kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(feat_distill=None)
