# PASCAL VOC 2007, teacher (WSDDN) view: trainval for training, test for
# evaluation (CorLoc / det mAP / image mAP; "difficult" boxes and
# difficult-only classes are ignored). Paper-style scales and 500 proposals.
# ====== Frequently modified parameters ======
data_root = 'data/VOCdevkit/VOC2007/'
num_classes = 20
num_proposals = 500
teacher_scale = 672  # val/test input size (square warp, as in the paper)
teacher_train_scales = [480, 576, 672, 736, 832]
train_proposal_file = 'proposals/ss_trainval.pkl'
val_proposal_file = 'proposals/ss_test.pkl'
batch_size = 4
num_workers = 4
# ============================================
dataset_type = 'VOCMultiLabelDataset'

train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=num_proposals),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[
            dict(
                type='RandomChoiceResize',
                scales=[(s, s) for s in teacher_train_scales],
                resize_type='mmdet.Resize',
                keep_ratio=False),
            dict(type='mmdet.RandomFlip', prob=0.5),
        ]),
    dict(type='PackWSODInputs'),
]
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=num_proposals),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[
            dict(
                type='mmdet.Resize',
                scale=(teacher_scale, teacher_scale),
                keep_ratio=False),
        ]),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='PackWSODInputs'),
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
        proposal_file=val_proposal_file,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# CorLoc, detection mAP@0.5 and image-level mAP / CF1 / OF1 of the teacher.
val_evaluator = dict(type='WSODMetric')
test_evaluator = val_evaluator
