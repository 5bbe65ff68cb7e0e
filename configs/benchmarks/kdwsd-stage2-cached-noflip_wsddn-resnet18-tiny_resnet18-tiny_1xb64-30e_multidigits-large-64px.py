# Benchmark distilled student on cached soft targets without the student's
# horizontal flips: the distilled counterpart of the baseline_noflip control
# (resnet18-tiny_1xb64-30e_multidigits-large-64px-noflip.py). Without flips
# the cache of the unflipped view is exactly what the online teacher would
# give (docs/benchmarks.md section 1, "Online and cached soft targets").
_base_ = [
    './kdwsd-stage2-cached_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(data_preprocessor=dict(flip_prob=0.0))
