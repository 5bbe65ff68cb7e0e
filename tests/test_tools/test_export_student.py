# Copyright (c) mmkdwsd authors. All rights reserved.
"""The exported student is a plain mmpretrain model: it loads with
``torch.load(weights_only=True)``, mmpretrain's inferencer runs it in a
process that never imports mmkdwsd, and its outputs equal the distiller's
student outputs exactly."""
import os
import os.path as osp
import subprocess
import sys
import tempfile
from unittest import TestCase

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmkdwsd.apis import export_student
from mmkdwsd.registry import MODELS
from ..test_models.test_distillers.toy_models import (  # noqa: F401
    KD_PREPROCESSOR, NUM_CLASSES, ToyWSDDN)

STUDENT = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=18,
        stem_channels=8,
        base_channels=8,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(2, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=NUM_CLASSES,
        in_channels=32,
        loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)))

CHILD = r'''
import sys
import torch
torch.set_num_threads(1)
from mmpretrain.apis import ImageClassificationInferencer
cfg, ckpt, img, out = sys.argv[1:]
inferencer = ImageClassificationInferencer(cfg, pretrained=ckpt)
scores = inferencer(img)[0]['pred_scores']
data = inferencer.pipeline(dict(img=__import__('cv2').imread(img)))
data = inferencer.model.data_preprocessor(
    dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
torch.save(dict(inputs=data['inputs'], scores=torch.from_numpy(scores),
                classes=list(inferencer.classes or [])), out)
assert 'mmkdwsd' not in sys.modules, 'mmkdwsd was imported'
'''


class TestExportStudent(TestCase):

    def test_export_roundtrip(self):
        torch.set_num_threads(1)
        cfg = Config(
            dict(
                model=dict(
                    type='KDWSDDistiller',
                    teacher_cfg=dict(type='ToyWSDDN'),
                    student=dict(
                        STUDENT,
                        init_cfg=dict(
                            type='Pretrained',
                            checkpoint='stage1_gone.pth',
                            prefix='student.')),
                    data_preprocessor=dict(
                        type='KDDataPreprocessor',
                        teacher=KD_PREPROCESSOR['teacher'])),
                test_dataloader=dict(
                    dataset=dict(pipeline=[
                        dict(type='LoadImageSafe'),
                        dict(type='Resize', scale=(24, 24), keep_ratio=False),
                        dict(type='mmpretrain.PackInputs'),
                    ]))))
        model = MODELS.build(cfg.model)
        model.eval()
        classes = [f'c{i}' for i in range(NUM_CLASSES)]
        with tempfile.TemporaryDirectory() as tmp:
            src = osp.join(tmp, 'distiller.pth')
            torch.save(
                dict(
                    state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))), src)
            ckpt, cfg_path = export_student(cfg, src, osp.join(tmp, 'out'))

            exported = torch.load(ckpt, weights_only=True)
            self.assertFalse(
                any(k.startswith('student.') for k in exported['state_dict']))
            self.assertEqual(
                set(exported['state_dict']), set(model.student.state_dict()))
            text = open(cfg_path).read().split('\n', 1)[1]  # no header
            self.assertNotIn('mmkdwsd', text)
            self.assertNotIn('KDWSD', text)
            self.assertNotIn('Pretrained', text)
            self.assertIn("default_scope = 'mmpretrain'", text)
            self.assertIn('test_pipeline', text)

            img = osp.join(tmp, 'img.png')
            cv2.imwrite(
                img,
                np.random.RandomState(0).randint(
                    0, 256, (40, 48, 3), dtype=np.uint8))
            out = osp.join(tmp, 'child.pth')
            env = dict(os.environ, OMP_NUM_THREADS='1')
            env.pop('PYTHONPATH', None)
            proc = subprocess.run(
                [sys.executable, '-c', CHILD, cfg_path, ckpt, img, out],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
            child = torch.load(out, weights_only=True)
        self.assertEqual(child['classes'], classes)
        self.assertEqual(child['inputs'].shape, (1, 3, 24, 24))
        with torch.no_grad():
            logits = model(child['inputs'], mode='tensor')
        self.assertTrue(torch.equal(logits.sigmoid()[0], child['scores']))

    def test_fast_path_wrapper_is_not_exported(self):
        """A config that trains on the fast data path exports (and deploys)
        the preprocessor its PreDecodedDataPreprocessor wraps."""
        from mmkdwsd.deploy.onnx_export import prepare_model_cfg
        wrapped = dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=STUDENT['data_preprocessor'],
            views=[dict(pack='cls', scales=[24])],
            flip_prob=0.5)
        cfg = Config(
            dict(
                model=dict(STUDENT, data_preprocessor=wrapped),
                test_dataloader=dict(
                    dataset=dict(pipeline=[
                        dict(type='LoadImageSafe'),
                        dict(type='Resize', scale=(24, 24), keep_ratio=False),
                        dict(type='mmpretrain.PackInputs'),
                    ]))))
        model = MODELS.build(cfg.model)
        with tempfile.TemporaryDirectory() as tmp:
            src = osp.join(tmp, 'baseline.pth')
            torch.save(dict(state_dict=model.state_dict()), src)
            _, cfg_path = export_student(cfg, src, osp.join(tmp, 'out'))
            exported = Config.fromfile(cfg_path)
            self.assertNotIn('PreDecoded', open(cfg_path).read())
        self.assertEqual(exported.model.data_preprocessor.type,
                         'ClsDataPreprocessor')
        deploy = prepare_model_cfg(
            Config(dict(model=dict(STUDENT, data_preprocessor=wrapped),
                        test_pipeline=[])))
        self.assertEqual(deploy.data_preprocessor,
                         STUDENT['data_preprocessor'])


def test_missing_config_is_named(tmp_path):
    missing = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError,
                       match=f'export: config file "{missing}" does not'):
        export_student(missing, str(tmp_path / 'x.pth'), str(tmp_path))
