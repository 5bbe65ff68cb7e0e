# Benchmark distilled student, staged, stage 2 keeping the feature level on
# cached soft targets at temperature 1 (t_c = t_d = 1, see
# kdwsd-stage2-cached-t1_...): the main recipe with the softer targets.
_base_ = [
    './kdwsd-stage2-feat-cached_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=dict(cls_temperature=1.0, det_temperature=1.0))
