# NUS-WIDE (81 concepts), student view at 224 px (release split Train/Test).
# ====== Frequently modified parameters ======
data_root = 'data/nus-wide/'
num_classes = 81
student_scale = 224  # the paper's student input
batch_size = 32
num_workers = 4
# Many NUS-WIDE images can no longer be downloaded: drop missing files.
skip_missing = True
# ============================================
dataset_type = 'NUSWideDataset'

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
        split='train',
        skip_missing=skip_missing,
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
        split='test',
        skip_missing=skip_missing,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# mAP, CP/CR/CF1, OP/OR/OF1 at threshold 0.5 and top-3, as papers report.
val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
