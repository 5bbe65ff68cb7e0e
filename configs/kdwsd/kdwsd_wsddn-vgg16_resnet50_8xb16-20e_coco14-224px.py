# Swapping the student: ResNet-50 (stride 32, 2048 channels) instead of VGG16.
_base_ = ['./kdwsd_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px.py']

resnet50 = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa
model = dict(
    student=dict(
        backbone=dict(
            _delete_=True,
            type='mmpretrain.ResNet',
            depth=50,
            out_indices=(3, ),
            init_cfg=dict(
                type='Pretrained', checkpoint=resnet50, prefix='backbone')),
        head=dict(in_channels=2048)),
    feat_distill=dict(in_channels=2048, roi_size=3))
