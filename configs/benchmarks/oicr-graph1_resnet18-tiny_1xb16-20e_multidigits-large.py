# Ablation of the graph-centre seeds (issue 8): one seed per class, the
# centre of the densest cluster of the class's best regions instead of its
# best region alone (OICR), without the further centres (most MultiDigits
# scenes hold one instance of a class).
_base_ = ['./oicr-graph_resnet18-tiny_1xb16-20e_multidigits-large.py']

model = dict(roi_head=dict(bbox_head=dict(refine_seeds=dict(max_centers=1))))
