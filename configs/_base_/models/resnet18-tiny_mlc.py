# Student: the teacher's narrow two-stage ResNet-18 (stride 8, 32 channels;
# see wsddn_resnet18_tiny.py) + generalized-mean pooling + a multi-label
# linear head (sigmoid BCE). A plain mmpretrain ImageClassifier: this file is
# a valid mmpretrain model config on its own. No pretraining (CPU demo).
#
# Why this shape (measured on MultiDigits, docs/design.md): deeper/stride-16
# variants and global average pooling learned the small digits far slower
# from scratch; GeM (p=3) sits between average and max pooling. The head
# keeps PyTorch's default Linear init: mmpretrain's Normal(std=0.01) halved
# the from-scratch learning speed here.
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
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),  # stride 8, 32 channels
        norm_cfg=dict(type='BN', requires_grad=True)),
    neck=dict(type='mmpretrain.GeneralizedMeanPooling', p=3.0),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=10,
        in_channels=32,
        loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True),
        init_cfg=None))
