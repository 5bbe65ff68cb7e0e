# Benchmark baseline student without its horizontal flips: a control for
# the distilled students (docs/benchmarks.md section 1, "Online and cached
# soft targets"). Digits are not mirror-symmetric and the teachers train
# without flips, so the flip is a questionable augmentation here; this run
# says what it costs or gives the student on its own.
_base_ = ['./resnet18-tiny_1xb64-30e_multidigits-large-64px.py']
model = dict(data_preprocessor=dict(flip_prob=0.0))
