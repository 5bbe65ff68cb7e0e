# Student: the teacher's narrow ResNet-18 (3 stages, stride 16, 64 channels;
# see wsddn_resnet18_tiny.py) + global average pooling + a multi-label
# linear head (sigmoid BCE). A plain mmpretrain ImageClassifier: this file is
# a valid mmpretrain model config on its own. No pretraining (CPU demo).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, ),  # stride 16, 64 channels
        norm_cfg=dict(type='BN', requires_grad=True)),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)))
