_base_ = [
    '../_base_/models/wsddn_resnet18_tiny.py',
    '../_base_/datasets/multidigits_wsod.py', '../_base_/default_runtime.py'
]
# WSDDN teacher on MultiDigits (small preset), CPU-sized: narrow ResNet-18
# from scratch at stride 8, the dataset's selective-search proposals (at
# most 500; about 66 per image on MultiDigits).
# ====== Frequently modified parameters ======
data_root = 'data/multidigits_small/'
num_classes = 10
num_proposals = 500
teacher_train_scales = [96, 112, 128, 144, 160]
base_lr = 1e-3
max_epochs = 24
batch_size = 8
# ============================================

# 128 px inputs: stride 8 (last stage dilated) keeps digits of 14-36 px at
# 2-5 cells; 4x4 bins with one sample each keep mmcv's single-threaded CPU
# RoIAlign cheap.
model = dict(
    backbone=dict(strides=(1, 2, 1), dilations=(1, 1, 2)),
    roi_head=dict(
        bbox_roi_extractor=dict(
            roi_layer=dict(output_size=4, sampling_ratio=1),
            featmap_strides=[8]),
        bbox_head=dict(num_classes=num_classes, roi_feat_size=4, dropout=0.1)))

# Multi-scale training without flip: a mirrored digit is not the same digit.
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
train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# From scratch, AdamW converges far faster than the paper's SGD (which
# assumes ImageNet-initialised VGG16).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=200),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=base_lr * 0.01,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=1))
