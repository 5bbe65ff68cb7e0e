# KD-WSD stage 2 on COCO with cached soft targets (see the MultiDigits
# stage2-cached config): the student view alone, flipped; soft targets
# computed once per image on the teacher's 672 px test view and on its
# mirror image (soft_target_cache.flip), so that each flipped student
# image learns the targets the online teacher would give it (it sees the
# same flip): on MultiDigits caching the unflipped view alone lost most of
# the gain (docs/benchmarks.md section 1, "Online and cached soft
# targets").
_base_ = ['./kdwsd-stage2_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px.py']

# ====== Frequently modified parameters ======
# Relative to data_root; written by tools/cache_soft_targets.py THIS_CONFIG.
soft_target_file = 'soft_targets/wsddn-vgg16_t0.5_flip_train2014.pkl'
soft_target_cache = dict(flip=True)
# ============================================
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
        soft_target_file=soft_target_file,
        pipeline=train_pipeline))
