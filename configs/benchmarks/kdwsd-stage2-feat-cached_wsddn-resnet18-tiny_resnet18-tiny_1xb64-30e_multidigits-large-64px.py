# Benchmark distilled student, staged, stage 2 keeping the feature level on
# cached soft targets: the recipe of kdwsd-stage2-feat_... with the teacher's
# soft targets computed once per image (tools/benchmarks/accuracy.py runs
# cache_soft_targets first and sets soft_target_file). The teacher still runs
# for the feature level, but only on the regions each step draws (fc6 / fc7
# of 64 of the 500, no stream; docs/design.md "Teacher").
_base_ = [
    './kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
model = dict(pred_distill=dict(soft_targets='cached'))
train_dataloader = dict(
    dataset=dict(
        dataset=dict(soft_target_file='soft_targets/wsddn_train.pkl')))
