# KD-WSD stage 2 (official release): supervised BCE + prediction-level
# distillation (teacher soft targets at t = 0.5, student scale `a`), starting
# from stage 1's student (the `student.` weights of its checkpoint), for the
# remaining 6 of the student's 12 epochs: the main job's stage 2
# (kdwsd-stage2-feat, which holds the checkpoint and the schedule) without
# the feature-level term.
_base_ = ['./kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

model = dict(feat_distill=None)
