# Benchmark upper reference (the student network at the teacher's 128 px)
# without its horizontal flips: the reference of the no-flip students
# (resnet18-tiny_1xb64-30e_multidigits-large-64px-noflip.py and the
# *-noflip_* distillers), whose gap share accuracy.py measures against it
# once it is finished (docs/benchmarks.md section 1, "Online and cached soft
# targets, and the flip").
_base_ = ['./resnet18-tiny_1xb64-30e_multidigits-large-128px.py']
model = dict(data_preprocessor=dict(flip_prob=0.0))
