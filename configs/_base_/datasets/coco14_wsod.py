# MS-COCO 2014, teacher (WSDDN) view, paper settings: images warped to 672,
# training scales {480, 576, 672, 736, 832} with flip, 500 proposals per
# image (tools/generate_proposals.py), image labels from the instances json.
# Val/test load the true boxes (after the resize) only for CorLoc / det mAP.
# ====== Frequently modified parameters ======
data_root = 'data/coco/'
num_classes = 80
num_proposals = 500
teacher_scale = 672  # val/test input size (square warp, as in the paper)
teacher_train_scales = [480, 576, 672, 736, 832]
train_proposal_file = 'proposals/ss_train2014.pkl'
val_proposal_file = 'proposals/ss_val2014.pkl'
batch_size = 4
num_workers = 4
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
        proposal_file=val_proposal_file,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# CorLoc, detection mAP@0.5 and image-level mAP / CF1 / OF1 of the teacher.
val_evaluator = dict(type='WSODMetric')
test_evaluator = val_evaluator
