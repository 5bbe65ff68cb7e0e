# Benchmark distilled student, both terms with the online teacher, without
# the horizontal flips (the teacher's and the student's views share the
# flip, so both go): measured against baseline_noflip (docs/benchmarks.md
# section 1, "Online and cached soft targets, and the flip").
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(data_preprocessor=dict(flip_prob=0.0))
