# MS-COCO 2014, student (multi-label classification) view at 224 px.
# ====== Frequently modified parameters ======
data_root = 'data/coco/'
num_classes = 80
student_scale = 224  # the paper's student input
batch_size = 32
num_workers = 4
# ============================================
dataset_type = 'CocoMultiLabelDataset'

# `Resize` / `RandomFlip` are mmcv's (the transforms mmpretrain configs use).
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
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

# mAP, CP/CR/CF1, OP/OR/OF1 at threshold 0.5 and top-3, as papers report.
val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
