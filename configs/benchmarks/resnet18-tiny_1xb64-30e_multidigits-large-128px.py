# Benchmark baseline student (issue 8): narrow ResNet-18 at 128 px, half
# the teacher's 256 px, on the large MultiDigits preset; no distillation.
# Sized for one 10-minute H100 call (tools/benchmarks/accuracy.py).
_base_ = ['../mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py']

data_root = 'data/multidigits_large/'
max_epochs = 30
train_dataloader = dict(
    batch_size=64, num_workers=8, dataset=dict(data_root=data_root))
val_dataloader = dict(
    batch_size=128, num_workers=8, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=200),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
