# MS-COCO 2014, two views for distillation (see multidigits_kd.py): teacher
# 672 px with 500 proposals, student 224 px; proposals map to the student by
# the ratio of the views' img_shape (672 -> 224, as in the paper).
# Val/test: the student view only.
# ====== Frequently modified parameters ======
data_root = 'data/coco/'
num_classes = 80
num_proposals = 500
teacher_scale = 672
# Teacher input sizes during distillation; several = multi-scale teacher.
kd_teacher_scales = [teacher_scale]
student_scale = 224
train_proposal_file = 'proposals/ss_train2014.pkl'
batch_size = 16
num_workers = 4
# ============================================
dataset_type = 'CocoMultiLabelDataset'

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
            dict(type='mmpretrain.PackInputs'),
        ]),
]
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
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
        ann_file='annotations/instances_train2014.json',
        data_prefix=dict(img='train2014/'),
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
        ann_file='annotations/instances_val2014.json',
        data_prefix=dict(img='val2014/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
