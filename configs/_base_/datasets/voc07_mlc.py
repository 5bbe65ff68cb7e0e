# PASCAL VOC 2007, student view (trainval / test). Difficult-only classes
# are packed as `gt_label_ignore` so the metric leaves them out.
# ====== Frequently modified parameters ======
data_root = 'data/VOCdevkit/VOC2007/'
num_classes = 20
student_scale = 224  # the paper's student input
batch_size = 32
num_workers = 4
# ============================================
dataset_type = 'VOCMultiLabelDataset'

# `Resize` / `RandomFlip` are mmcv's (the transforms mmpretrain configs use).
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs', algorithm_keys=('gt_label_ignore', )),
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

# mAP, CP/CR/CF1, OP/OR/OF1 at threshold 0.5 and top-3, as papers report.
val_evaluator = dict(type='MultiLabelPaperMetric')
test_evaluator = val_evaluator
