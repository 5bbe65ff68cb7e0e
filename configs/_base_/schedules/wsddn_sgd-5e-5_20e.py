# Paper schedule of the WSDDN teacher: SGD, lr 5e-5 (authors' advice),
# divided by 10 for the last epochs, batch 32 (8 GPUs x 4 images).
# Caffe convention: biases at 2x lr and without weight decay.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=5e-5, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))

param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[14], gamma=0.1)
]

# `--auto-scale-lr` scales lr linearly from this total batch size.
auto_scale_lr = dict(enable=False, base_batch_size=32)
