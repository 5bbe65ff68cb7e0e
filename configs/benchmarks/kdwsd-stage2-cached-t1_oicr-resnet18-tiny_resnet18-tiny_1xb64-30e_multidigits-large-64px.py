# Benchmark distilled student, staged, stage 2 on the OICR teacher's soft
# targets cached at temperature 1, from the OICR stage 1: the WSDDN recipe
# with the best gain (kdwsd-stage2-cached-t1_wsddn) with the refined teacher.
_base_ = [
    './kdwsd-stage2-cached-t1_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr_resnet18-tiny_1xb16-20e_multidigits-large.py')
