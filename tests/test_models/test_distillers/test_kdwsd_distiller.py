# Copyright (c) mmkdwsd authors. All rights reserved.
import copy
import os
import os.path as osp
import tempfile
from unittest import TestCase

import torch
from mmengine.optim import OptimWrapper

from mmkdwsd.models.distillers import teacher_model_cfg
from mmkdwsd.registry import MODELS
from .toy_models import (FC7_DIM, KD_PREPROCESSOR, NUM_CLASSES,
                         STUDENT_CHANNELS, toy_kd_batch, toy_student)

TEACHER = dict(type='ToyWSDDN')
FEAT = dict(
    in_channels=STUDENT_CHANNELS,
    out_channels=FC7_DIM,
    hidden_channels=(12, ),
    roi_size=2)
PRED = dict(cls_temperature=0.5, det_temperature=0.5, student_temperature=5.)


class TestKDWSDDistiller(TestCase):
    DEFAULT_ARGS = dict(
        type='KDWSDDistiller',
        teacher_cfg=TEACHER,
        student=toy_student(),
        feat_distill=FEAT,
        pred_distill=PRED,
        data_preprocessor=KD_PREPROCESSOR)

    def build(self, **kwargs):
        torch.manual_seed(0)
        return MODELS.build({**copy.deepcopy(self.DEFAULT_ARGS), **kwargs})

    def preprocess(self, model, training=True, seed=0):
        return model.data_preprocessor(toy_kd_batch(seed=seed), training)

    def test_loss_keys_finite(self):
        model = self.build()
        data = self.preprocess(model)
        losses = model(**data, mode='loss')
        self.assertEqual(
            set(losses), {
                'student.loss_cls', 'distill.loss_feat', 'distill.loss_pred',
                'distill.kd_scale'
            })
        # the soft branch's scale `a` is logged, not added to the loss
        self.assertAlmostEqual(
            float(losses['distill.kd_scale']),
            float(model.kd_logit_scale.mean()),
            places=5)
        _, log_vars = model.parse_losses(losses)
        self.assertAlmostEqual(
            float(log_vars['loss']),
            sum(float(v) for k, v in losses.items() if 'loss' in k),
            places=4)
        self.assertIn('distill.kd_scale', log_vars)
        for value in losses.values():
            self.assertTrue(torch.isfinite(value).all())
        # stage 1 of the official release: feature level only
        stage1 = self.build(sup_weight=0., pred_distill=None)
        self.assertEqual(
            set(stage1(**data, mode='loss')), {'distill.loss_feat'})

    def test_teacher_frozen_through_training(self):
        model = self.build()
        before = copy.deepcopy(model.teacher.state_dict())
        trained = dict(
            head=model.student.head.fc.weight,
            scale=model.kd_logit_scale,
            projector=model.region_distiller.projector[1].weight)
        trained_before = {k: v.detach().clone() for k, v in trained.items()}
        optim = OptimWrapper(
            torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
        model.train()
        self.assertFalse(model.teacher.training)
        self.assertTrue(model.student.training)
        for step in range(3):
            data = toy_kd_batch(seed=step)
            model.train_step(data, optim)
            for name, param in model.teacher.named_parameters():
                self.assertFalse(param.requires_grad, name)
                self.assertIsNone(param.grad, name)
        for key, value in model.teacher.state_dict().items():
            self.assertTrue(torch.equal(value, before[key]), key)
        # the student and the distillation parts did learn
        for key, value in trained.items():
            self.assertFalse(torch.equal(value, trained_before[key]), key)

    def test_feature_loss_zero_when_features_match(self):
        model = self.build()
        data = self.preprocess(model)
        inputs, samples = data['inputs'], data['data_samples']
        out = model.get_teacher_outputs(inputs['teacher'], samples['teacher'])
        feat_map, _ = model.extract_student(inputs['student'])
        # The student's own region features on the rescaled proposals
        # (teacher 32 px -> student 16 px) become the teacher's targets.
        distiller = model.region_distiller
        boxes = [p * 0.5 for p in out['proposals']]
        student_feats = distiller.projector(
            distiller.pool(feat_map, inputs['student'], boxes)).detach()
        out['region_feats'] = list(
            student_feats.split([len(p) for p in boxes]))
        loss = model.loss_feat(feat_map, inputs['student'], out,
                               samples['teacher'], samples['student'])
        self.assertEqual(loss['distill.loss_feat'].item(), 0.)
        # and it is positive for the real teacher features
        out = model.get_teacher_outputs(inputs['teacher'], samples['teacher'])
        loss = model.loss_feat(feat_map, inputs['student'], out,
                               samples['teacher'], samples['student'])
        self.assertGreater(loss['distill.loss_feat'].item(), 0.)

    def test_topk_regions(self):
        model = self.build(feat_distill=dict(FEAT, regions='topk', topk=2))
        data = self.preprocess(model)
        inputs, samples = data['inputs'], data['data_samples']
        out = model.get_teacher_outputs(inputs['teacher'], samples['teacher'])
        labels = [s.gt_label for s in samples['student']]
        selected = model.region_distiller.select_regions(out, labels)
        for (index, weight), label, scores in zip(selected, labels,
                                                  out['region_scores']):
            expected = scores[:, label].topk(2, dim=0).indices.flatten()
            self.assertEqual(set(index.tolist()), set(expected.tolist()))
            self.assertTrue(torch.equal(weight, torch.ones_like(weight)))
        losses = model(**data, mode='loss')
        self.assertTrue(torch.isfinite(losses['distill.loss_feat']))

    def test_soft_targets(self):
        model = self.build()
        data = self.preprocess(model)
        inputs, samples = data['inputs'], data['data_samples']
        out = model.get_teacher_outputs(inputs['teacher'], samples['teacher'])
        targets = model.get_soft_targets(out)
        self.assertEqual(targets.shape, (2, NUM_CLASSES))
        self.assertTrue(((targets >= 0) & (targets <= 1)).all())
        model.pred_cfg = dict(cls_temperature=1., det_temperature=1.)
        torch.testing.assert_close(
            model.get_soft_targets(out), out['img_scores'])
        self.assertTrue(
            torch.allclose(model.kd_logit_scale,
                           torch.full((NUM_CLASSES, ), 0.2)))

    def test_cached_soft_targets(self):
        online = self.build(feat_distill=None)
        cached = self.build(
            feat_distill=None, pred_distill=dict(PRED, soft_targets='cached'))
        cached.student.load_state_dict(online.student.state_dict())
        self.assertFalse(cached.needs_teacher_in_loss)
        self.assertTrue(online.needs_teacher_in_loss)
        data = self.preprocess(online)
        inputs, samples = data['inputs'], data['data_samples']
        targets = online.get_soft_targets(
            online.get_teacher_outputs(inputs['teacher'], samples['teacher']))
        # the student view alone, each sample carrying its cached targets
        student_samples = copy.deepcopy(samples['student'])
        for sample, target in zip(student_samples, targets):
            sample.set_field(target.numpy(), 'soft_target')

        def no_teacher(*args, **kwargs):
            raise AssertionError('the teacher ran')

        cached.teacher.predict_regions = no_teacher
        losses = cached(inputs['student'], student_samples, mode='loss')
        self.assertEqual(
            set(losses),
            {'student.loss_cls', 'distill.loss_pred', 'distill.kd_scale'})
        # the same losses as the online teacher on the same view
        expected = online(**data, mode='loss')
        for key, value in expected.items():
            torch.testing.assert_close(losses[key], value)
        # and the gradient flows into the student and the scale `a`
        losses['distill.loss_pred'].backward()
        self.assertIsNotNone(cached.kd_logit_scale.grad)
        self.assertIsNotNone(cached.student.head.fc.weight.grad)

    def test_cached_soft_targets_errors(self):
        cached = self.build(
            feat_distill=None, pred_distill=dict(PRED, soft_targets='cached'))
        data = self.preprocess(cached)
        student = data['inputs']['student']
        samples = data['data_samples']['student']
        with self.assertRaisesRegex(
                KeyError, r"student sample\(s\) \[0, 1\] of this batch carry "
                r"no 'soft_target'.*tools/cache_soft_targets.py"):
            cached(student, samples, mode='loss')
        samples[0].set_field(torch.zeros(NUM_CLASSES + 1), 'soft_target')
        samples[1].set_field(torch.zeros(NUM_CLASSES + 1), 'soft_target')
        with self.assertRaisesRegex(
                ValueError, r'cached soft targets have shape \(2, 5\), the '
                r'student logits \(2, 4\)'):
            cached(student, samples, mode='loss')
        # the feature level needs the teacher view, cached or not
        both = self.build(pred_distill=dict(PRED, soft_targets='cached'))
        with self.assertRaisesRegex(ValueError, 'this batch has no teacher '
                                    'view'):
            both(student, samples, mode='loss')
        with self.assertRaisesRegex(ValueError, "soft_targets must be "
                                    "'online' or 'cached', got 'offline'"):
            self.build(pred_distill=dict(PRED, soft_targets='offline'))
        with self.assertRaisesRegex(
                ValueError, "target_source must be 'wsddn', 'refined' or "
                "'mixed', got 'oicr'"):
            self.build(pred_distill=dict(PRED, target_source='oicr'))
        # the toy teacher has no refinement streams
        for source in ('refined', 'mixed'):
            with self.assertRaisesRegex(ValueError, 'needs a teacher with '
                                        'OICR refinement streams'):
                self.build(pred_distill=dict(PRED, target_source=source))

    def test_class_mismatch(self):
        with self.assertRaisesRegex(
                ValueError, r'class counts differ: teacher 4, student 5'):
            self.build(student=toy_student(num_classes=5))
        with self.assertRaisesRegex(
                ValueError,
                r'class counts differ: teacher 4, student 4, dataset 3'):
            self.build(num_classes=3)
        model = self.build()
        with self.assertRaisesRegex(ValueError, r'dataset 2'):
            model.check_dataset_classes(['a', 'b'])

    def test_teacher_checkpoint(self):
        teacher = MODELS.build(TEACHER)
        with tempfile.TemporaryDirectory() as tmp:
            good = osp.join(tmp, 'teacher.pth')
            torch.save(dict(state_dict=teacher.state_dict()), good)
            model = self.build(teacher_ckpt=good)
            for key, value in teacher.state_dict().items():
                self.assertTrue(
                    torch.equal(model.teacher.state_dict()[key], value))
            self.assertTrue(model.teacher.is_init)
            # init_weights() must not overwrite the loaded teacher
            model.init_weights()
            for key, value in teacher.state_dict().items():
                self.assertTrue(
                    torch.equal(model.teacher.state_dict()[key], value))

            state = teacher.state_dict()
            state.pop('fc_cls.bias')
            state['extra.weight'] = torch.zeros(1)
            bad = osp.join(tmp, 'bad.pth')
            torch.save(dict(state_dict=state), bad)
            with self.assertRaisesRegex(
                    RuntimeError,
                    r"(?s)missing keys \(1\): \['fc_cls.bias'\].*"
                    r"unexpected keys \(1\): \['extra.weight'\]"):
                self.build(teacher_ckpt=bad)

    def test_teacher_config_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'teacher_cfg.py')
            with open(path, 'w') as f:
                f.write("model = dict(type='ToyWSDDN')\n"
                        "train_cfg = dict(max_epochs=1)\n")
            model = self.build(teacher_cfg=path)
            self.assertEqual(type(model.teacher).__name__, 'ToyWSDDN')
        with self.assertRaisesRegex(FileNotFoundError, 'does not exist'):
            self.build(teacher_cfg=osp.join(tmp, 'missing.py'))

    def test_teacher_config_found_among_shipped_configs(self):
        # a repository-relative path, used from another working directory
        # (as `mim train` does), resolves to the package's .mim/ copy
        rel = 'configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py'
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                cfg = teacher_model_cfg(rel)
                with self.assertRaisesRegex(
                        FileNotFoundError,
                        'configs/wsddn/missing.py" does not exist .*'
                        r"package's \.mim/ configs"):
                    self.build(teacher_cfg='configs/wsddn/missing.py')
            finally:
                os.chdir(cwd)
        self.assertEqual(cfg['type'], 'WSDDN')

    def test_student_layer_pools_from_an_inner_module(self):
        # the feature level pools from backbone.layers.1 (the first ReLU,
        # stride 2) instead of the backbone's last output (stride 4)
        model = self.build(feat_distill=dict(
            FEAT, student_layer='backbone.layers.1'))
        data = self.preprocess(model)
        student = data['inputs']['student']
        feat_map, logits = model.extract_student(student)
        self.assertEqual(feat_map.shape[-1], student.shape[-1] // 2)
        torch.testing.assert_close(
            feat_map, model.student.backbone.layers[:2](student))
        torch.testing.assert_close(logits, model.student(student))
        losses = model(**data, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        # the layer's gradient also comes from the feature level
        self.assertIsNotNone(model.student.backbone.layers[0].weight.grad)
        self.assertTrue(torch.isfinite(losses['distill.loss_feat']))
        # the student network itself is unchanged: same parameters
        plain = self.build()
        self.assertEqual(
            [k for k, _ in model.student.named_parameters()],
            [k for k, _ in plain.student.named_parameters()])
        with self.assertRaisesRegex(ValueError, 'student_layer=.*not a '
                                    'module of the student'):
            self.build(feat_distill=dict(FEAT, student_layer='backbone.x'))
        # hooked only while extract_student runs: the student's own
        # forward keeps no map
        model.student.predict(student)
        self.assertEqual(
            len(model.student.backbone.layers[1]._forward_hooks), 0)
        # a module that exists but is not run by the student's forward
        model.student.backbone.unused = torch.nn.ReLU()
        model.student_layer = 'backbone.unused'
        with self.assertRaisesRegex(RuntimeError, 'did not run'):
            model.extract_student(student)

    def test_predict_and_tensor(self):
        model = self.build()
        model.eval()
        data = self.preprocess(model, training=False)
        results = model(**data, mode='predict')
        self.assertEqual(len(results), 2)
        for result in results:
            self.assertEqual(result.pred_score.shape, (NUM_CLASSES, ))
            self.assertEqual(result.teacher_pred_score.shape, (NUM_CLASSES, ))
        logits = model(**data, mode='tensor')
        self.assertEqual(logits.shape, (2, NUM_CLASSES))
        torch.testing.assert_close(
            torch.stack([r.pred_score for r in results]), logits.sigmoid())
        # the student view alone (an exported-style batch)
        alone = model(data['inputs']['student'], mode='tensor')
        self.assertTrue(torch.equal(alone, logits))


class TestKDWSDConfigs(TestCase):
    """The MultiDigits KD configs build with the real WSDDN teacher and give
    finite, named losses on a toy two-view batch."""

    ROOT = osp.dirname(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    TAIL = 'wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py'

    def build(self, prefix: str, **feat_distill):
        from mmengine.config import Config
        cfg = Config.fromfile(
            osp.join(self.ROOT, 'configs', 'kdwsd', prefix + self.TAIL))
        cfg.model.teacher_cfg = osp.join(self.ROOT, cfg.model.teacher_cfg)
        if cfg.model.student.get('init_cfg'):
            cfg.model.student.init_cfg = None  # no stage-1 checkpoint here
        if feat_distill:
            cfg.model.feat_distill.update(feat_distill)
        torch.manual_seed(0)
        return MODELS.build(cfg.model)

    def test_stage1_teacher_computes_the_drawn_regions_only(self):
        """Stage 1 draws its regions before the real WSDDN teacher runs,
        which then runs fc6 / fc7 on those alone and no stream: the loss
        is the one of the full teacher forward with the same draw."""
        model = self.build('kdwsd-stage1_', num_sampled=5)
        model.train()
        data = model.data_preprocessor(
            toy_kd_batch(teacher_size=64, student_size=32), True)
        fc6 = model.teacher.roi_head.bbox_head.shared_fcs[0]
        rows = []
        fc6.register_forward_hook(lambda m, x, y: rows.append(len(y)))
        torch.manual_seed(3)
        stream = model.teacher.roi_head.bbox_head.fc_cls.register_forward_hook(
            lambda *args: self.fail('a teacher stream ran'))
        loss = model(**data, mode='loss')['distill.loss_feat']
        stream.remove()
        self.assertEqual(rows, [2 * 5])  # not the 2 x 16 proposals
        model.region_distiller.draw_proposals = lambda proposals: None
        torch.manual_seed(3)
        full = model(**data, mode='loss')['distill.loss_feat']
        self.assertEqual(rows, [10, 2 * 16])
        torch.testing.assert_close(loss, full)

    def test_cached_soft_targets_with_sampled_feature_level(self):
        """With cached soft targets the teacher's scores are not needed
        either: stage 2 keeping the feature level runs the teacher on the
        drawn regions alone; online soft targets need all of them."""
        for soft_targets, expected in (('cached', 2 * 5), ('online', 2 * 16)):
            model = self.build('kdwsd-stage2-feat_', num_sampled=5)
            model.pred_cfg['soft_targets'] = soft_targets
            model.train()
            batch = toy_kd_batch(teacher_size=64, student_size=32)
            for sample in batch['data_samples']['student']:
                sample.set_field(torch.rand(10), 'soft_target')
            rows = []
            fc6 = model.teacher.roi_head.bbox_head.shared_fcs[0]
            fc6.register_forward_hook(lambda m, x, y: rows.append(len(y)))
            losses = model(**model.data_preprocessor(batch, True), mode='loss')
            self.assertEqual(rows, [expected], soft_targets)
            self.assertEqual(
                set(losses), {
                    'student.loss_cls', 'distill.loss_feat',
                    'distill.loss_pred', 'distill.kd_scale'
                })

    def test_stages(self):
        expected = {
            'kdwsd_': {
                'student.loss_cls', 'distill.loss_feat', 'distill.loss_pred',
                'distill.kd_scale'
            },
            'kdwsd-stage1_': {'distill.loss_feat'},
            'kdwsd-stage2_':
            {'student.loss_cls', 'distill.loss_pred', 'distill.kd_scale'},
            'kdwsd-stage2-feat_': {
                'student.loss_cls', 'distill.loss_feat', 'distill.loss_pred',
                'distill.kd_scale'
            },
        }
        for prefix, keys in expected.items():
            model = self.build(prefix)
            self.assertEqual(model.num_classes, 10)
            batch = toy_kd_batch(teacher_size=64, student_size=32)
            model.train()
            losses = model(**model.data_preprocessor(batch, True), mode='loss')
            self.assertEqual(set(losses), keys, prefix)
            for key, value in losses.items():
                self.assertTrue(torch.isfinite(value).all(), key)
            if 'distill.loss_feat' in keys:
                # the label-free stage 1 keeps the official loss; with the
                # label loss the term is normalised (relative error)
                loss_feat = model.region_distiller.loss_feat
                self.assertEqual(loss_feat.normalize,
                                 prefix != 'kdwsd-stage1_')
