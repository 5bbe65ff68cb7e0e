# Benchmark distilled student, feature level only (+ labels).
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=None)
