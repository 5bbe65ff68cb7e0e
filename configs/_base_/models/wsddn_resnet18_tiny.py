# A CPU-sized WSDDN: narrow two-stage ResNet-18 (stride 8, 32 channels),
# RoIAlign 4x4, fc6/fc7 256. For tests and MultiDigits, where its backbone
# starts from the same network trained as a classifier on the image labels
# (the stand-in for the paper's ImageNet weights; see configs/wsddn/).
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
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),  # stride 8, 32 channels
        norm_cfg=dict(type='BN', requires_grad=True)),
    roi_head=dict(
        type='WSDDNRoIHead',
        score_scale=1.0,
        score_bias=0.0,
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(
                type='RoIAlign', output_size=4, sampling_ratio=2,
                aligned=True),
            out_channels=32,
            featmap_strides=[8]),
        bbox_head=dict(
            type='WSDDNBBoxHead',
            num_classes=10,
            in_channels=32,
            roi_feat_size=4,
            fc_out_channels=256,
            dropout=0.1,
            num_refine=0)),  # 3 = OICR
    test_cfg=dict(
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.4),
        max_per_img=100))
