# Distillation (CPU demo): AdamW, warm-up, cosine. The student's learnable
# soft-prediction scale `a` (KDWSDDistiller.kd_logit_scale) has 10x lr and no
# weight decay, as in the official release. The frozen teacher has no grads.
max_epochs = 10
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'kd_logit_scale': dict(lr_mult=10.0, decay_mult=0.0),
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min=1e-5,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
