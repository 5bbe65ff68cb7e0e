# KD-WSD stage 1 (official release): feature-level distillation only, no
# classification loss. The student's backbone learns to reproduce the
# teacher's fc7 region features from its own 64 px feature map. No
# validation: the student's head is not trained in this stage.
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb16-10e_multidigits-64px.py']

model = dict(sup_weight=0.0, pred_distill=None)
val_dataloader = None
val_evaluator = None
val_cfg = None
