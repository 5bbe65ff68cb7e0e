# WSDDN teacher on MultiDigits (CPU): the narrow ResNet-18 at 64 px (train
# scales 48-80), selective-search proposals of at least 16 px (see
# tools/run_pipeline.py), 6 epochs of Adam. Like the paper's teacher (VGG16
# from ImageNet), the backbone starts from a classifier: the 64 px
# multi-label classifier configs/mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py
# trained on the same image labels (no box, no outside data). Give its
# checkpoint as `load_from` (--cfg-options load_from=...): its `backbone.*`
# weights load, its head is ignored (non-strict load, keys listed in the
# log). Without it the backbone trains from scratch (far weaker, see
# docs/design.md).
_base_ = [
    '../_base_/models/wsddn_resnet18_tiny.py',
    '../_base_/datasets/multidigits_wsod.py',
    '../_base_/schedules/wsddn_adam_6e.py', '../_base_/default_runtime.py'
]
load_from = None
