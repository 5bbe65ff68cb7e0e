# Benchmark teacher (issue 8): plain WSDDN, narrow ResNet-18 at 128 px
# (multi-scale training, as the small-preset teacher) on the large
# MultiDigits preset, the backbone starting from the 128 px reference
# student (tools/benchmarks/accuracy.py sets load_from), with the
# proposals that tools/benchmarks/accuracy.py generates (sliding windows by
# default: the GPU machine's OpenCV has no ximgproc for Selective Search).
_base_ = ['../wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py']

data_root = 'data/multidigits_large/'
teacher_scale = 128
teacher_train_scales = [96, 112, 128, 144, 160]
max_epochs = 20
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='mmdet.LoadProposals', num_max_proposals=500),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[
            dict(
                type='mmdet.Resize',
                scale=(teacher_scale, teacher_scale),
                keep_ratio=False)
        ]),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='PackWSODInputs'),
]
# Training data on the fast path (docs/benchmarks.md): decoded once, one of
# the scales drawn per batch (the per-image pipeline drew one per image) and
# the proposals rescaled with the image by PreDecodedDataPreprocessor on the
# model's device, which then runs the usual DetDataPreprocessor.
model = dict(
    data_preprocessor=dict(
        _delete_=True,
        type='PreDecodedDataPreprocessor',
        preprocessor={{_base_.model.data_preprocessor}},
        views=[dict(pack='det', scales=teacher_train_scales)]))
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    pin_memory=True,
    collate_fn=dict(type='mmkdwsd.predecoded_collate'),
    dataset=dict(
        _delete_=True,
        type='PreDecodedDataset',
        num_max_proposals=500,
        dataset=dict(
            type='CocoMultiLabelDataset',
            data_root=data_root,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            proposal_file='proposals/windows_train.pkl',
            pipeline=[])))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    dataset=dict(
        data_root=data_root,
        proposal_file='proposals/windows_val.pkl',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5,
         by_epoch=True, begin=0, end=max_epochs, convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
