# Benchmark stage 1 (feature level only) without the student's horizontal
# flips: the start of kd_staged_cached_all_noflip, whose two stages then see
# the same unflipped images as the baseline_noflip control.
_base_ = [
    './kdwsd-stage1_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(data_preprocessor=dict(flip_prob=0.0))
