_base_ = [
    '../_base_/models/wsddn_vgg16.py', '../_base_/datasets/voc07_wsod.py',
    '../_base_/schedules/wsddn_sgd-5e-5_20e.py', '../_base_/default_runtime.py'
]
# WSDDN teacher of Liu et al. (ACM MM 2018) on PASCAL VOC 2007
# (5,011 trainval / 4,952 test images, 20 classes):
# VGG16, 672 px input (multi-scale + flip training), 500 proposals,
# SGD lr 5e-5, batch 32 (8 GPUs x 4).
# ====== Frequently modified parameters ======
num_classes = 20
base_lr = 5e-5
max_epochs = 20
batch_size = 4
# ============================================

model = dict(roi_head=dict(bbox_head=dict(num_classes=num_classes)))
train_dataloader = dict(batch_size=batch_size)
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=base_lr))
