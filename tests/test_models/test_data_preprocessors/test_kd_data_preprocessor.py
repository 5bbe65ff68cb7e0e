# Copyright (c) mmkdwsd authors. All rights reserved.
from unittest import TestCase

import torch

from mmkdwsd.registry import MODELS
from ..test_distillers.toy_models import KD_PREPROCESSOR, toy_kd_batch


class TestKDDataPreprocessor(TestCase):

    def test_two_branches(self):
        processor = MODELS.build(KD_PREPROCESSOR)
        batch = toy_kd_batch(num_images=3)
        out = processor(batch, training=True)
        self.assertEqual(set(out['inputs']), {'teacher', 'student'})
        self.assertEqual(out['inputs']['teacher'].shape, (3, 3, 32, 32))
        self.assertEqual(out['inputs']['student'].shape, (3, 3, 16, 16))
        expected = (batch['inputs']['student'][0].float() - 127.5) / 127.5
        torch.testing.assert_close(out['inputs']['student'][0], expected)
        # the teacher branch went through mmdet's DetDataPreprocessor
        teacher_sample = out['data_samples']['teacher'][0]
        self.assertEqual(teacher_sample.batch_input_shape, (32, 32))
        self.assertEqual(len(out['data_samples']['student']), 3)

    def test_student_only_and_unknown_branch(self):
        processor = MODELS.build(KD_PREPROCESSOR)
        batch = toy_kd_batch()
        student_only = dict(
            inputs=dict(student=batch['inputs']['student']),
            data_samples=dict(student=batch['data_samples']['student']))
        out = processor(student_only)
        self.assertEqual(set(out['inputs']), {'student'})
        plain = processor(
            dict(
                inputs=batch['inputs']['student'],
                data_samples=batch['data_samples']['student']))
        self.assertEqual(plain['inputs'].shape, (2, 3, 16, 16))
        with self.assertRaisesRegex(KeyError, r"unknown branches \['sup'\]"):
            processor(dict(inputs=dict(sup=[]), data_samples=dict(sup=[])))
