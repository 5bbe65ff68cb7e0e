# Student: ImageNet-pretrained ResNet-101 + global average pooling + a
# multi-label linear head (sigmoid BCE). A plain mmpretrain ImageClassifier;
# num_classes is COCO's 80 (dataset configs / children override it).
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet101_8xb32_in1k_20210831-539c63f8.pth'  # noqa
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=101,
        num_stages=4,
        out_indices=(3, ),  # stride 32, 2048 channels
        style='pytorch',
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=80,
        in_channels=2048,
        loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)))
