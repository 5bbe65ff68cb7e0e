# Benchmark distilled student, staged, stage 2 on the OICR teacher's cached
# soft targets without the student's horizontal flips, from the OICR stage
# 1: kdwsd-stage2-cached-noflip_wsddn with the refined teacher, so the two
# teachers' staged students compare like for like (issue 8: "its distilled
# student beats WSDDN's").
_base_ = [
    './kdwsd-stage2-cached-noflip_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    teacher_cfg='configs/benchmarks/'
    'oicr_resnet18-tiny_1xb16-20e_multidigits-large.py')
