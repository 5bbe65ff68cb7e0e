# MultiDigits, teacher (weakly-supervised detection) view: image, proposals,
# image labels. Multi-scale + flip training; fixed size for val/test, where
# the true boxes are loaded (after the resize, so they stay in original-image
# coordinates) only for CorLoc / detection mAP.
# ====== Frequently modified parameters ======
data_root = 'data/multidigits_small/'
num_classes = 10
num_proposals = 500
teacher_scale = 64  # val/test input size (square warp of the 128 px scenes)
teacher_train_scales = [48, 56, 64, 72, 80]
train_proposal_file = 'proposals/ss_train.pkl'
val_proposal_file = 'proposals/ss_val.pkl'
batch_size = 8
num_workers = 2
# ============================================
dataset_type = 'CocoMultiLabelDataset'

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
        proposal_file=val_proposal_file,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# CorLoc, detection mAP@0.5 and image-level mAP / CF1 / OF1 of the teacher.
val_evaluator = dict(type='WSODMetric')
test_evaluator = val_evaluator
