# Benchmark distilled student (both terms) from the OICR teacher.
_base_ = [
    './kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr_resnet18-tiny_1xb16-20e_multidigits-large.py')
