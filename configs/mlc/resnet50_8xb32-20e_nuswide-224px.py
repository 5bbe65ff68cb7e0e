# Student baseline (no distillation): ImageNet-pretrained resnet50 at 224 px,
# a stronger student.
_base_ = [
    '../_base_/models/resnet50_mlc.py', '../_base_/datasets/nuswide_mlc.py',
    '../_base_/schedules/mlc_sgd_20e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes=81))
