# KD-WSD as in the paper: the VGG16 WSDDN teacher at 672 px distilled into
# the ImageNet-pretrained VGG16 student at 224 px; joint single stage
# (supervised BCE + feature level + prediction level). The staged
# (official) variant: `kdwsd-stage1_...` / `kdwsd-stage2_...` children.
_base_ = [
    '../_base_/models/kdwsd_wsddn-vgg16_vgg16.py',
    '../_base_/datasets/coco14_kd.py', '../_base_/schedules/kd_sgd_20e.py',
    '../_base_/default_runtime.py'
]

num_classes = 80
model = dict(
    teacher_cfg='configs/wsddn/wsddn_vgg16_8xb4-20e_coco14-672px.py',
    num_classes=num_classes,
    student=dict(head=dict(num_classes=num_classes)))
val_evaluator = dict(prefix='student')
test_evaluator = dict(prefix='student')
