# Student baseline (no distillation): narrow ResNet-18 at 64 px, half the
# teacher's 128 px. The reference the distilled student is compared with.
_base_ = [
    '../_base_/models/resnet18-tiny_mlc.py',
    '../_base_/datasets/multidigits_mlc.py',
    '../_base_/schedules/mlc_adamw_20e.py', '../_base_/default_runtime.py'
]
