# KD-WSD model as in the paper: the VGG16 WSDDN teacher (672 px) distilled
# into the ImageNet-pretrained VGG16 student (224 px). Dataset configs set
# `teacher_cfg` and the class count.
_base_ = ['./vgg16_mlc.py']

# ====== Frequently modified parameters ======
kd_num_classes = 80  # COCO; dataset configs override model.num_classes
teacher_cfg = None  # set by the dataset config
teacher_ckpt = None  # the trained teacher: --cfg-options model.teacher_ckpt=
teacher_feat_dim = 4096  # teacher fc7 width
student_channels = 512  # VGG16 conv5_3
sup_weight = 1.0
feat_weight = 1.0
distill_regions = 'all'  # 'all' (objectness-weighted, official) or 'topk'
num_sampled_regions = 128  # of the 500 regions per image per step
kd_weight = 1.0
tau = 0.5  # teacher temperatures t_c = t_d (official)
student_tau = 5.0  # a = 1 / student_tau initially (official 0.2)
# ============================================

model = dict(
    _delete_=True,
    type='KDWSDDistiller',
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
    student=dict(
        type='mmpretrain.ImageClassifier',
        data_preprocessor={{_base_.model.data_preprocessor}},
        backbone={{_base_.model.backbone}},
        neck={{_base_.model.neck}},
        head=dict(
            type='mmpretrain.MultiLabelLinearClsHead',
            num_classes=kd_num_classes,
            in_channels=student_channels,
            loss=dict(type='mmpretrain.CrossEntropyLoss',
                      use_sigmoid=True))),
    num_classes=kd_num_classes,
    sup_weight=sup_weight,
    feat_distill=dict(
        in_channels=student_channels,
        out_channels=teacher_feat_dim,
        hidden_channels=(1024, ),
        roi_size=7,
        regions=distill_regions,
        topk=4,
        num_sampled=num_sampled_regions,
        loss=dict(type='RegionFeatureLoss', loss_weight=feat_weight)),
    pred_distill=dict(
        cls_temperature=tau,
        det_temperature=tau,
        student_temperature=student_tau,
        loss=dict(type='MultiLabelKDLoss', loss_weight=kd_weight)),
    data_preprocessor=dict(type='KDDataPreprocessor'))
