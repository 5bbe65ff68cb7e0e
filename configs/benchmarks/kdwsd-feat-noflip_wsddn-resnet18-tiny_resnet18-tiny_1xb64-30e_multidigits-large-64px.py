# Benchmark distilled student, feature level only (+ labels) with the
# online teacher, without the horizontal flips: measured against
# baseline_noflip (docs/benchmarks.md section 1, "Online and cached soft
# targets, and the flip").
_base_ = [
    './kdwsd-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(data_preprocessor=dict(flip_prob=0.0))
