# WSDDN fine-tuning on the CPU (MultiDigits), from a backbone pretrained as a
# classifier: Adam lr 1e-4, cosine decay, gradient clipping.
max_epochs = 6
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=0),
    clip_grad=dict(max_norm=35, norm_type=2))

param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min=1e-6,
        convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
