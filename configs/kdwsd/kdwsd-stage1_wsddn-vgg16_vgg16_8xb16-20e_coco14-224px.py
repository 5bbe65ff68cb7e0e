# KD-WSD stage 1 on COCO (official release): feature level only.
_base_ = ['./kdwsd_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px.py']

model = dict(sup_weight=0.0, pred_distill=None)
val_dataloader = None
val_evaluator = None
val_cfg = None
