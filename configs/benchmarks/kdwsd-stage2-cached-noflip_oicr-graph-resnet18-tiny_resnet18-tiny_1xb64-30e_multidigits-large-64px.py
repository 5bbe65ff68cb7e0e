# Benchmark distilled student, staged, stage 2 on the cached soft targets of
# the OICR teacher with graph-centre seeds, no flips, from its stage 1: the
# OICR staged student with that teacher (compared with WSDDN's seed by seed).
_base_ = [
    './kdwsd-stage2-cached-noflip_oicr-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr-graph_resnet18-tiny_1xb16-20e_multidigits-large.py')
