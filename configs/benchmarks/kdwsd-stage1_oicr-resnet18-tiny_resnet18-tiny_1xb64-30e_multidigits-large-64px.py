# Benchmark distilled student, staged, stage 1 (feature level only) from the
# OICR teacher: the WSDDN teacher's stage 1 with the refined teacher's
# region features (issue 8: "its distilled student beats WSDDN's").
_base_ = [
    './kdwsd-stage1_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr_resnet18-tiny_1xb16-20e_multidigits-large.py')
