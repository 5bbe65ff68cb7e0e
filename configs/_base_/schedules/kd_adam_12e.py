# Distillation on the CPU (MultiDigits): the student's schedule of
# mlc_adam_12e.py. The student's learnable soft-prediction scale `a`
# (KDWSDDistiller.kd_logit_scale) has 10x lr and no weight decay, as in the
# official release. The frozen teacher has no grads.
_base_ = ['./mlc_adam_12e.py']

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'kd_logit_scale': dict(lr_mult=10.0, decay_mult=0.0),
        }))
