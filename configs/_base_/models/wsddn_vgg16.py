# WSDDN teacher as in Liu et al. (ACM MM 2018): VGG16, conv5_3 (stride 16),
# RoIAlign 7x7, fc6/fc7 4096 with dropout 0.5, two streams (no refinement).
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/vgg/vgg16_batch256_imagenet_20210208-db26f1a5.pth'  # noqa

model = dict(
    type='WSDDN',
    # The paper's Caffe VGG16 expects BGR input minus the mean, std 1
    # (mean=[102.98, 115.95, 122.77], std=[1., 1., 1.], bgr_to_rgb=False).
    # The mmpretrain ImageNet weights above were trained on RGB input
    # normalised by the ImageNet mean/std, so those are used here; switch to
    # the Caffe values only with Caffe-converted weights.
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='mmpretrain.VGG',
        depth=16,
        with_last_pool=False,
        out_indices=(4, ),  # conv5_3, stride 16
        frozen_stages=2,  # conv1-conv2 fixed, as in Fast R-CNN / WSDDN
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    roi_head=dict(
        type='WSDDNRoIHead',
        # Region features times the proposal score (official code);
        # score_scale=0., score_bias=1. disables the weighting.
        score_scale=1.0,
        score_bias=0.0,
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            # Or dict(type='RoIPool', output_size=7) as in the Caffe code
            # (mmcv 2.1 RoIPool has a CUDA kernel only).
            roi_layer=dict(
                type='RoIAlign', output_size=7, sampling_ratio=2,
                aligned=True),
            out_channels=512,
            featmap_strides=[16]),
        bbox_head=dict(
            type='WSDDNBBoxHead',
            num_classes=80,
            in_channels=512,
            roi_feat_size=7,
            fc_out_channels=4096,
            dropout=0.5,
            num_refine=0,  # 3 = OICR
            # ImageNet fc6/fc7 of mmpretrain's VGG16 classifier.
            fcs_init_cfg=dict(
                type='Pretrained',
                checkpoint=checkpoint,
                prefix='backbone.classifier.'))),
    test_cfg=dict(
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.4),
        max_per_img=100))
