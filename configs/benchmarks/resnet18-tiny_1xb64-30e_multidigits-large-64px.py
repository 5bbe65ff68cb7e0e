# The benchmark student at 64 px (a quarter of the teacher's 256 px), no
# distillation: a candidate baseline for the accuracy benchmark, whose
# 128 px student was measured above its 256 px reference after 30 epochs
# (docs/benchmarks.md section 1, "CPU pilot").
_base_ = ['./resnet18-tiny_1xb64-30e_multidigits-large-128px.py']

student_scale = 64
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
