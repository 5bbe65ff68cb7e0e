_base_ = './wsddn_resnet18-tiny_1xb8-6e_multidigits.py'
# OICR (Tang et al., CVPR 2017): WSDDN plus three refinement streams; the
# test-time region scores are the mean of the refined streams.
model = dict(roi_head=dict(bbox_head=dict(num_refine=3)))
