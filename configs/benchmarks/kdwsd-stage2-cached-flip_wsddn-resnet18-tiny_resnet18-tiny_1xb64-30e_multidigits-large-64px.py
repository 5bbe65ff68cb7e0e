# Benchmark distilled student, stage 2 on cached soft targets with the
# flipped view: tools/cache_soft_targets.py (and accuracy.py) also run the
# teacher on each image flipped horizontally with its proposals, and the
# student learns from the targets of the view it sees, as it does from the
# online teacher, which gets the same flip (docs/benchmarks.md section 1,
# "Online and cached soft targets"). accuracy.py caches them in a file of
# their own (soft_targets_flip.pkl next to the teacher's checkpoint).
_base_ = [
    './kdwsd-stage2-cached_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'  # noqa
]
soft_target_cache = dict(flip=True)
train_dataloader = dict(
    dataset=dict(
        dataset=dict(soft_target_file='soft_targets/wsddn_train_flip.pkl')))
