# Student baseline (no distillation): narrow ResNet-18 at 32 px, half the
# teacher's 64 px. The reference the distilled student is compared with.
_base_ = [
    '../_base_/models/resnet18-tiny_mlc.py',
    '../_base_/datasets/multidigits_mlc.py',
    '../_base_/schedules/mlc_adam_12e.py', '../_base_/default_runtime.py'
]
