# Benchmark distilled student, staged, stage 2 on the mean of the OICR
# teacher's two soft targets: its WSDDN streams' p' (the paper's formula,
# better ranked) and its refinement streams' (each class's top refined
# region, sparser on absent classes): does the student keep the refined
# targets' mAP and the WSDDN ones' F1 at the 0.5 threshold?
# (docs/benchmarks.md section 1, "A third seed, and the mean of both
# sources of OICR's soft targets").
_base_ = [
    './kdwsd-stage2-cached-noflip_oicr-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=dict(target_source='mixed'))
