# MultiDigits, student (multi-label classification) view: the image resized
# to the student size, image labels packed by mmpretrain's PackInputs.
# ====== Frequently modified parameters ======
data_root = 'data/multidigits_small/'
num_classes = 10
student_scale = 32  # a quarter of the 128 px scenes, half the teacher's 64 px
batch_size = 8
num_workers = 2
# ============================================
dataset_type = 'CocoMultiLabelDataset'

# `Resize` is mmcv's (the transform mmpretrain configs use). No flip: a
# mirrored digit is not the same digit.
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
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
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
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

# mAP, CP/CR/CF1, OP/OR/OF1 at threshold 0.5 and top-3, as papers report.
val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
