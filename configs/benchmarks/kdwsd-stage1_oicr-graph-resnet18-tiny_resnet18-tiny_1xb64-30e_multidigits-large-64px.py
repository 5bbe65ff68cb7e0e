# Benchmark distilled student, staged, stage 1 (feature level only) from the
# OICR teacher with graph-centre seeds: the OICR stage 1 with that teacher.
_base_ = [
    './kdwsd-stage1_oicr-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr-graph_resnet18-tiny_1xb16-20e_multidigits-large.py')
