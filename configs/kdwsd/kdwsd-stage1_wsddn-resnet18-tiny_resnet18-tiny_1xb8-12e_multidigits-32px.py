# KD-WSD stage 1 (official release): feature-level distillation only, no
# classification loss. The student's backbone learns to reproduce the
# teacher's fc7 region features from its own 32 px feature map. No
# validation: the student's head is not trained in this stage. 6 epochs here
# + 6 in stage 2 = the 12 epochs of the baseline student.
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

# The official loss: alone in the stage, its scale does not matter (Adam).
model = dict(
    sup_weight=0.0,
    pred_distill=None,
    feat_distill=dict(loss=dict(loss_weight=1.0, normalize=False)))
val_dataloader = None
val_evaluator = None
val_cfg = None
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min=1e-5,
        convert_to_iter_based=True),
]
