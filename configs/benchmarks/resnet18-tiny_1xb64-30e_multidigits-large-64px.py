# Benchmark baseline student (issue 8): narrow ResNet-18 at 64 px, half the
# teacher's 128 px (the demo's proportions), on the large MultiDigits preset;
# no distillation. The distilled students are this network at this
# resolution.
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
