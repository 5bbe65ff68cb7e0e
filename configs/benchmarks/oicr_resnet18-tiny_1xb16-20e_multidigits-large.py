# Benchmark teacher with refinement (issue 8): OICR, three refinement
# streams; otherwise the benchmark WSDDN teacher.
_base_ = ['./wsddn_resnet18-tiny_1xb16-20e_multidigits-large.py']

model = dict(roi_head=dict(bbox_head=dict(num_refine=3)))
