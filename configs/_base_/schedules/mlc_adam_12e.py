# From-scratch multi-label training on the CPU (MultiDigits): Adam, no
# weight decay, cosine decay, batch 8 (more updates per epoch). Measured on
# MultiDigits (docs/design.md): this learns the digits about twice as fast as
# AdamW with weight decay 0.05, warm-up and batch 32.
max_epochs = 12
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3,
                                        weight_decay=0))

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
auto_scale_lr = dict(enable=False, base_batch_size=8)
