# KD-WSD stage 2 on COCO (official release): labels + prediction level, from
# stage 1's student.
_base_ = ['./kdwsd_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px.py']

stage1_ckpt = 'work_dirs/kdwsd-stage1_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px/epoch_20.pth'  # noqa
model = dict(
    feat_distill=None,
    student=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=stage1_ckpt, prefix='student.')))
