# Benchmark distilled student, staged, stage 2 on soft targets from the OICR
# teacher's refinement streams (each class's most confident region under the
# streams' average softmax, the scores OICR detects with) instead of its
# WSDDN streams' p' (the paper's formula): does the refined teacher's student
# gain once its soft targets come from where its better localisation lives?
# (docs/benchmarks.md section 1, "The refined teacher's student on Selective
# Search proposals").
_base_ = [
    './kdwsd-stage2-cached-noflip_oicr-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=dict(target_source='refined'))
