# Upper reference (issue 8): the benchmark student at the teacher's 256 px
# (four times the compute of the 128 px student), no distillation.
_base_ = ['./resnet18-tiny_1xb64-30e_multidigits-large-128px.py']

student_scale = 256
model = dict(
    data_preprocessor=dict(views=[dict(pack='cls', scales=[student_scale])]))
test_pipeline = [
    dict(type='LoadImageSafe'),
    dict(
        type='Resize', scale=(student_scale, student_scale), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
