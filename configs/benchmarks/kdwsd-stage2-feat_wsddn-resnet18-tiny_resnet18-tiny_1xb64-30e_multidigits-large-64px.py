# Benchmark distilled student, staged, stage 2 keeping the feature level
# (beyond the official release; the main job's stage 2 on the CPU demo):
# labels + prediction level + the normalised feature term (weight 7), the
# student starting from stage 1's (tools/benchmarks/accuracy.py sets
# model.student.init_cfg to the finished kd_stage1 run of the same seed).
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
max_epochs = 15
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
