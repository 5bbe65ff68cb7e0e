# Benchmark distilled student, prediction level on cached soft targets at
# temperature 1, without the student's horizontal flips: the temperature
# that helped the flipped staged students (kdwsd-stage2-cached-t1_*) on the
# fair pair of kdwsd-stage2-cached-noflip_* (its baseline is
# resnet18-tiny_1xb64-30e_multidigits-large-64px-noflip.py).
_base_ = [
    './kdwsd-stage2-cached-t1_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(data_preprocessor=dict(flip_prob=0.0))
