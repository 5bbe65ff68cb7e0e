# Distilling only the teacher's top-4 regions of each present class (the
# paper's figure) instead of all regions weighted by objectness (official).
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

model = dict(feat_distill=dict(regions='topk', topk=4, num_sampled=None))
