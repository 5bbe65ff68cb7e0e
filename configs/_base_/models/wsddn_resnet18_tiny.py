# A CPU-sized WSDDN: narrow ResNet-18 (3 stages, stride 16, 64 channels),
# RoIAlign 7x7, fc6/fc7 256, no pretraining. For tests and MultiDigits.
model = dict(
    type='WSDDN',
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=16),
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
    roi_head=dict(
        type='WSDDNRoIHead',
        score_scale=1.0,
        score_bias=0.0,
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(
                type='RoIAlign', output_size=7, sampling_ratio=2,
                aligned=True),
            out_channels=64,
            featmap_strides=[16]),
        bbox_head=dict(
            type='WSDDNBBoxHead',
            num_classes=10,
            in_channels=64,
            roi_feat_size=7,
            fc_out_channels=256,
            dropout=0.5,
            num_refine=0)),  # 3 = OICR
    test_cfg=dict(
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.4),
        max_per_img=100))
