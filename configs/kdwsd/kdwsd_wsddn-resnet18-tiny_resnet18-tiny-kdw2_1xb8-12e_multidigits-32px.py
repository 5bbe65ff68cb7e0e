# A loss-weight experiment: the prediction-level term weighted lambda = 2
# (the primitive uses 1, as the official release).
_base_ = ['./kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py']

model = dict(pred_distill=dict(loss=dict(loss_weight=2.0)))
