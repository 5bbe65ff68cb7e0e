# Benchmark teacher with refinement seeded by graph centres (issue 8): the
# benchmark OICR teacher whose refinement streams take up to five seeds per
# class, the centres of PCL's proposal graph (the best 15% of the regions,
# joined at IoU > 0.4), instead of the single best region that a stream can
# lock onto (docs/benchmarks.md, "Graph-centre seeds for OICR's refinement").
_base_ = ['./oicr_resnet18-tiny_1xb16-20e_multidigits-large.py']

model = dict(
    roi_head=dict(
        bbox_head=dict(
            refine_seeds=dict(
                type='graph', top_ratio=0.15, iou_thr=0.4, max_centers=5))))
