# Benchmark teacher whose refinement learns on fixed features (issue 8): the
# benchmark OICR teacher with no gradient from the refinement losses into
# fc7 and below, so WSDDN's streams train as in plain WSDDN and the
# refinement streams are classifiers on its features (docs/benchmarks.md,
# "OICR's refinement on fixed features").
_base_ = ['./oicr_resnet18-tiny_1xb16-20e_multidigits-large.py']

model = dict(roi_head=dict(bbox_head=dict(refine_grad_scale=0.0)))
