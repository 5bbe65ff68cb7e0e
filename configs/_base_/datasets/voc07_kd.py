# PASCAL VOC 2007, two views for distillation (see multidigits_kd.py).
# ====== Frequently modified parameters ======
data_root = 'data/VOCdevkit/VOC2007/'
num_classes = 20
num_proposals = 500
teacher_scale = 672
# Teacher input sizes during distillation; several = multi-scale teacher.
kd_teacher_scales = [teacher_scale]
student_scale = 224
train_proposal_file = 'proposals/ss_trainval.pkl'
batch_size = 16
num_workers = 4
# ============================================
dataset_type = 'VOCMultiLabelDataset'

train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=num_proposals),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[dict(type='mmdet.RandomFlip', prob=0.5)]),
    dict(
        type='mmdet.MultiBranch',
        branch_field=['teacher', 'student'],
        teacher=[
            dict(
                type='mmdet.ProposalBroadcaster',
                transforms=[
                    dict(
                        type='RandomChoiceResize',
                        scales=[(s, s) for s in kd_teacher_scales],
                        resize_type='mmdet.Resize',
                        keep_ratio=False),
                ]),
            dict(type='PackWSODInputs'),
        ],
        student=[
            dict(
                type='Resize',
                scale=(student_scale, student_scale),
                keep_ratio=False),
            dict(
                type='mmpretrain.PackInputs',
                algorithm_keys=('gt_label_ignore', )),
        ]),
]
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs', algorithm_keys=('gt_label_ignore', )),
]

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=num_workers,
    persistent_workers=num_workers > 0,
    collate_fn=dict(type='mmkdwsd.stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Main/trainval.txt',
        proposal_file=train_proposal_file,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=batch_size,
    num_workers=num_workers,
    persistent_workers=num_workers > 0,
    collate_fn=dict(type='mmkdwsd.stack_collate'),
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ImageSets/Main/test.txt',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
