# MultiDigits, two views of one item for distillation: shared load and flip
# (proposals flipped with the image), then mmdet's MultiBranch: the teacher
# branch resizes image + proposals to the teacher size (DetDataSample with
# proposals, gt_label), the student branch resizes the image to the student
# size (mmpretrain DataSample with gt_label). Both samples keep img_shape,
# scale_factor and flip, so teacher proposals map to the student input by
# the ratio of the two img_shape values. Val/test: the student view only
# (only the student runs at test time).
# ====== Frequently modified parameters ======
data_root = 'data/multidigits_small/'
num_classes = 10
num_proposals = 500
teacher_scale = 64
# Teacher input sizes during distillation; several = multi-scale teacher.
kd_teacher_scales = [teacher_scale]
student_scale = 32
train_proposal_file = 'proposals/ss_train.pkl'
batch_size = 8
num_workers = 2
# ============================================
dataset_type = 'CocoMultiLabelDataset'

train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=num_proposals),
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
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
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
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
