_base_ = './wsddn_vgg16_8xb4-20e_voc07-672px.py'
# OICR (Tang et al., CVPR 2017): WSDDN plus three refinement streams; the
# test-time region scores are the mean of the refined streams.
model = dict(roi_head=dict(bbox_head=dict(num_refine=3)))
