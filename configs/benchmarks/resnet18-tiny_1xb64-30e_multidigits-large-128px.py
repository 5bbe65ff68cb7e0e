# Upper reference (issue 8): the benchmark student network at the teacher's
# 128 px (four times the compute of the 64 px baseline student), on the
# large MultiDigits preset; no distillation. Its checkpoint is where the
# benchmark teachers' backbones start (tools/benchmarks/accuracy.py). Sized
# for one 10-minute H100 call; the 64 px baseline inherits this file.
_base_ = ['../mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py']

data_root = 'data/multidigits_large/'
student_scale = 128
max_epochs = 30
# Training data on the fast path (docs/benchmarks.md): the scenes decoded
# once into data_root/predecoded/, whole batches gathered by the workers,
# flip and resize on the model's device by PreDecodedDataPreprocessor, which
# then runs the model's usual ClsDataPreprocessor. The flip matches the
# distilled students' pipelines: baseline and distillation see the same
# augmentation.
#
# GeM's learnable exponent p grows with training (about 3.5 after the demo's
# 12 epochs, 4.9-5.9 after 24, 7.4 after 29 of a 48-epoch run); past about
# 7.5, eps=1e-6 makes a dead channel's pooled value underflow to 0 in fp32
# and the gradient of p NaN (a CPU run stopped there; docs/design.md).
# eps=1e-3 moves that edge past p=14 for these longer schedules.
model = dict(
    neck=dict(eps=1e-3),
    data_preprocessor=dict(
        _delete_=True,
        type='PreDecodedDataPreprocessor',
        preprocessor={{_base_.model.data_preprocessor}},
        views=[dict(pack='cls', scales=[student_scale])],
        flip_prob=0.5))
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='mmkdwsd.predecoded_collate'),
    dataset=dict(
        _delete_=True,
        type='PreDecodedDataset',
        dataset=dict(
            type='CocoMultiLabelDataset',
            data_root=data_root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            pipeline=[])))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
