# KD-WSD stage 2 with cached soft targets: the same losses as stage 2
# (labels + prediction level), but the teacher's soft targets come with the
# data (computed once per image on the teacher's test view by
# tools/cache_soft_targets.py), so the teacher does not run in training and
# the train pipeline is the student view alone: stage 2 costs about as much
# as the baseline. Differs from online stage 2 in that the teacher no longer
# sees the student's augmentation (none on MultiDigits).
_base_ = ['./kdwsd-stage2_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

# ====== Frequently modified parameters ======
# Relative to data_root; written by tools/cache_soft_targets.py THIS_CONFIG.
soft_target_file = 'soft_targets/wsddn-resnet18-tiny_t0.5_train.pkl'
# ============================================
model = dict(pred_distill=dict(soft_targets='cached'))
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize',
        scale=({{_base_.student_scale}}, {{_base_.student_scale}}),
        keep_ratio=False),
    dict(type='mmpretrain.PackInputs', algorithm_keys=['soft_target']),
]
train_dataloader = dict(
    dataset=dict(
        proposal_file=None,
        soft_target_file=soft_target_file,
        pipeline=train_pipeline))
