# KD-WSD stage 2 (official release): supervised BCE + prediction-level
# distillation (teacher soft targets at t = 0.5, student scale `a`), starting
# from stage 1's student (the `student.` weights of its checkpoint), for the
# remaining 6 of the student's 12 epochs.
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

# ====== Frequently modified parameters ======
stage1_ckpt = 'work_dirs/kdwsd-stage1_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px/epoch_6.pth'  # noqa
max_epochs = 6
# ============================================
model = dict(
    feat_distill=None,
    student=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=stage1_ckpt, prefix='student.')))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        eta_min=1e-5,
        convert_to_iter_based=True),
]
