# KD-WSD stage 2 (official release): supervised BCE + prediction-level
# distillation (teacher soft targets at t = 0.5, student scale `a`), starting
# from stage 1's student (the `student.` weights of its checkpoint).
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb16-10e_multidigits-64px.py']

# ====== Frequently modified parameters ======
stage1_ckpt = 'work_dirs/kdwsd-stage1_wsddn-resnet18-tiny_resnet18-tiny_1xb16-10e_multidigits-64px/epoch_10.pth'  # noqa
# ============================================
model = dict(
    feat_distill=None,
    student=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=stage1_ckpt, prefix='student.')))
