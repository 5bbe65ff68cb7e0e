_base_ = './wsddn_resnet18-tiny_1xb8-24e_multidigits.py'
# Shorter MultiDigits teacher (half the updates of the 24e schedule): for
# quick pipeline runs; expect a weaker teacher (see README).
# ====== Frequently modified parameters ======
base_lr = 2e-3
max_epochs = 12
batch_size = 16
# ============================================

train_dataloader = dict(batch_size=batch_size)
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=base_lr * 0.01,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=batch_size)
