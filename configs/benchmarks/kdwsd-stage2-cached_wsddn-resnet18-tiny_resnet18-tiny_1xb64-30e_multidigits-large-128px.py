# Benchmark distilled student, staged, stage 2 on cached soft targets: the
# student view alone (flip), the teacher's soft targets computed once per
# image (tools/benchmarks/accuracy.py runs cache_soft_targets first and sets
# soft_target_file).
_base_ = [
    './kdwsd-stage2_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-128px.py'  # noqa
]
model = dict(pred_distill=dict(soft_targets='cached'))
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='Resize',
        scale=({{_base_.student_scale}}, {{_base_.student_scale}}),
        keep_ratio=False),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['soft_target']),
]
train_dataloader = dict(
    dataset=dict(
        proposal_file=None,
        soft_target_file='soft_targets/wsddn_train.pkl',
        pipeline=train_pipeline))
