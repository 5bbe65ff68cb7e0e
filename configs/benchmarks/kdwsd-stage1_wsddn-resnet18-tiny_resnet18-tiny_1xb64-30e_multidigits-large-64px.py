# Benchmark distilled student, staged as the official release (what the CPU
# demo found to carry the gain): stage 1, feature level only, no label loss,
# no validation, half of the 30 student epochs.
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
max_epochs = 15
# the official feature loss, as the demo's stage 1
model = dict(
    sup_weight=0.0,
    pred_distill=None,
    feat_distill=dict(loss=dict(loss_weight=1.0, normalize=False)))
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
