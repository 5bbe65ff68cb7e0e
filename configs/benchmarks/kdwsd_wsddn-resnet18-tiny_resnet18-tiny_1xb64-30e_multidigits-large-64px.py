# Benchmark distilled student (issue 8), both terms: supervised BCE +
# feature level + prediction level, from the benchmark WSDDN teacher at
# 128 px into the narrow ResNet-18 student at 64 px (one joint stage, sized
# for one 10-minute H100 call). The pred-only / feat-only / OICR-teacher
# variants inherit this file. `teacher_ckpt` is set by
# tools/benchmarks/accuracy.py.
_base_ = [
    '../kdwsd/kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py'  # noqa
]

data_root = 'data/multidigits_large/'
teacher_scale = 128
student_scale = 64
max_epochs = 30


def _branches(teacher_resize):
    return dict(
        type='mmdet.MultiBranch',
        branch_field=['teacher', 'student'],
        teacher=[
            dict(
                type='mmdet.ProposalBroadcaster',
                transforms=[teacher_resize]),
            dict(type='PackWSODInputs'),
        ],
        student=[
            dict(
                type='Resize',
                scale=(student_scale, student_scale),
                keep_ratio=False),
            dict(type='mmpretrain.PackInputs'),
        ])


_resize = dict(
    type='mmdet.Resize',
    scale=(teacher_scale, teacher_scale),
    keep_ratio=False)
val_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=500),
    _branches(_resize),
]
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]
del _branches, _resize

# GeM eps 1e-3 as in the benchmark students (see
# resnet18-tiny_1xb64-30e_multidigits-large-128px.py). Training data on the
# fast path, as the baseline's: PreDecodedDataPreprocessor flips the decoded
# batch and makes both views on the model's device (the teacher's with its
# proposals flipped and rescaled), then runs the KDDataPreprocessor that the
# distiller builds from the teacher's and the student's preprocessors.
model = dict(
    teacher_cfg='configs/benchmarks/'
    'wsddn_resnet18-tiny_1xb16-20e_multidigits-large.py',
    student=dict(neck=dict(eps=1e-3)),
    data_preprocessor=dict(
        type='PreDecodedDataPreprocessor',
        views=[
            dict(branch='teacher', pack='det', scales=[teacher_scale]),
            dict(branch='student', pack='cls', scales=[student_scale]),
        ],
        flip_prob=0.5))
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='mmkdwsd.predecoded_collate'),
    dataset=dict(
        _delete_=True,
        type='PreDecodedDataset',
        num_max_proposals=500,
        dataset=dict(
            type='CocoMultiLabelDataset',
            data_root=data_root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            proposal_file='proposals/windows_train.pkl',
            pipeline=[])))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    dataset=dict(
        data_root=data_root,
        proposal_file='proposals/windows_val.pkl',
        pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
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
