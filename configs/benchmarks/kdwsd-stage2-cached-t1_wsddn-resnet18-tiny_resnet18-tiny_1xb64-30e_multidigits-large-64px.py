# Benchmark distilled student, staged, stage 2 on cached soft targets at
# temperature 1 (t_c = t_d = 1: WSDDN's own image score; the paper's 0.5
# sharpens it). With a teacher that reads the scene almost perfectly the
# sharpened soft targets are nearly the labels; at 1 the staged student
# gained 1.2-1.7 mAP more on every seed (docs/benchmarks.md section 1,
# "Softer soft targets"). accuracy.py caches these soft targets in a file of
# their own (soft_targets_tc1_td1.pkl next to the teacher's checkpoint).
_base_ = [
    './kdwsd-stage2-cached_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=dict(cls_temperature=1.0, det_temperature=1.0))
