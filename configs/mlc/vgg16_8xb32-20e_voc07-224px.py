# Student baseline (no distillation): ImageNet-pretrained vgg16 at 224 px,
# the paper's student.
_base_ = [
    '../_base_/models/vgg16_mlc.py', '../_base_/datasets/voc07_mlc.py',
    '../_base_/schedules/mlc_sgd_20e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes=20))
