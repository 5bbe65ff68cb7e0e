# Student of the paper's family: ImageNet-pretrained VGG16 conv1-conv5_3
# (stride 16; pool5 dropped, so RoIs keep conv5_3's resolution) + global
# average pooling + a multi-label linear head (sigmoid BCE). The paper's
# student keeps VGG's fc6/fc7 on a 7x7 pool5 (224 px only); this is the
# standard mmpretrain multi-label form of the same backbone. num_classes:
# COCO's 80 (dataset configs / children override it).
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/vgg/vgg16_batch256_imagenet_20210208-db26f1a5.pth'  # noqa
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.VGG',
        depth=16,
        num_classes=-1,
        out_indices=(4, ),  # conv5_3 block (before pool5), 512 channels
        with_last_pool=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=80,
        in_channels=512,
        loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)))
