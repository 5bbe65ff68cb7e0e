# Benchmark distilled student, staged, stage 2 on cached soft targets: the
# student view alone (flip), the teacher's soft targets computed once per
# image (tools/benchmarks/accuracy.py runs cache_soft_targets first and sets
# soft_target_file), on the fast data path of the online stage 2. The
# targets are the unflipped view's only, as the paper's cache would be,
# while the student trains on flips; kdwsd-stage2-cached-flip_* caches both
# views (docs/benchmarks.md section 1, "Online and cached soft targets").
_base_ = [
    './kdwsd-stage2_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(
    pred_distill=dict(soft_targets='cached'),
    data_preprocessor=dict(views=[
        dict(pack='cls', scales=[{{_base_.student_scale}}]),
    ]))
train_dataloader = dict(
    dataset=dict(
        num_max_proposals=None,
        dataset=dict(
            proposal_file=None,
            soft_target_file='soft_targets/wsddn_train.pkl')))
