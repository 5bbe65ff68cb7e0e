# The same student network at the teacher's 64 px (four times the compute of
# the 32 px student), no distillation. Two roles: the upper reference of the
# results table (how much of the resolution gap distillation recovers), and
# the teacher's backbone pretraining (its checkpoint initialises the WSDDN
# backbone, standing in for the paper's ImageNet weights).
_base_ = ['./resnet18-tiny_1xb8-12e_multidigits-32px.py']

student_scale = 64
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
