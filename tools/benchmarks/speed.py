# Copyright (c) mmkdwsd authors. All rights reserved.
"""Speed benchmark of issue 8, every figure side by side in one run.

Sections (each row: measured value, unit, ratio / note):

1. ``infer``: student inference img/s at batch 1 and the large batch, fp32
   and bf16 (autocast + channels_last), optionally ``torch.compile``; the
   teacher's inference (``WSDDN.predict_regions``: backbone, RoIAlign,
   fc6/fc7, two streams; no NMS) in fp32 and bf16 (bf16 convolutions, fp32
   RoIAlign: the RoI head casts, mmcv has no bf16 kernel); student / teacher.
2. ``train``: training img/s (forward, backward, SGD step) of the baseline
   student, the teacher, distillation stage 1 (feature level) and stage 2
   (prediction level + labels), online and on cached soft targets
   (``tools/cache_soft_targets.py``); each stage against (teacher forward +
   student step) and against the baseline. The feature-level stages run
   twice: on all regions (the official release) and on the configs'
   ``num_sampled`` random regions per image; stage 1 once more with
   ``roi_op='separable'`` and once with the teacher computing every
   region's features (``stage1-sampled-teacher-all``: as before the
   regions were drawn ahead of the teacher), and the sampled stage 2
   keeping the feature level once more on cached soft targets (the teacher
   then runs on the drawn regions only).
3. ``roialign``: mmcv RoIAlign vs torchvision ``roi_align`` on the teacher's
   shapes, forward and forward + backward, and their max abs difference;
   on the student's region shapes, mmcv's RoIAlign vs
   ``separable_roi_align`` (fp32, and bf16 autocast on a GPU).
4. ``data``: the distillation data pipeline alone (img/s with the
   configured workers; skipped when the dataset is missing) against the
   fastest training throughput.
5. ``flops``: the student's inference FLOP rate (mmengine
   ``get_model_complexity_info``; it counts a multiply-add as one, so FLOPs
   = 2 x that) as a fraction of a bf16 matmul rate measured in this run.

``--profile`` profiles each timed training step afterwards (torch.profiler,
a few calls): ``OUT/profiles/NAME.txt`` lists the operators that took the
most device time, and a ``profile`` row per step says how busy the device
was against the timed step (a low share: the host sets the pace) and how
many kernels it launched. Profile in a separate run from the timings:
CUPTI can slow a process down after profiling (``gpu_session.sh``'s
``PROFILE`` does so, with ``TEARDOWN_CUPTI=1``).

Models are built from the project's configs with random weights (speed does
not depend on their values) and fed synthetic, already normalised inputs
and random proposals, so only the networks are timed. Timing: warm-up, CUDA
synchronisation, median of repeats.

Examples::

    # the GPU run (paper setting: VGG16 student 224 px, WSDDN VGG16 672 px,
    # 500 proposals)
    python tools/benchmarks/speed.py --device cuda --out work_dirs/bench
    # smoke test on the CPU
    python tools/benchmarks/speed.py --device cpu --tiny --out /tmp/bench
"""
import argparse
import copy
import math
import os
import os.path as osp
import sys
import time
import traceback
from contextlib import nullcontext

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)  # the checkout's mmkdwsd, not a stale install
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402

from bench_utils import (base_dataset, env_line, markdown_table,  # noqa: E402
                         median_time, synchronize, top_level_ops, write_report)

#: Sizes of the settings. ``paper``: Liu et al.'s teacher and a VGG16
#: student; ``multidigits``: the benchmark models of configs/benchmarks/;
#: ``demo``: the CPU main job's sizes (``make demo``); ``tiny``: CPU smoke
#: test. ``student_layer``: (module, channels) of the student map the
#: MultiDigits configs pool the teacher's regions from (None: the last);
#: ``student_stride``: that map's stride.
SETTINGS = dict(
    paper=dict(
        student='configs/_base_/models/vgg16_mlc.py',
        teacher='configs/_base_/models/wsddn_vgg16.py',
        num_classes=80, student_size=224, teacher_size=672, proposals=500,
        infer_batches=(1, 256), teacher_batch=16, train_batch=32,
        teacher_train_batch=8, matmul=8192, channels=512, fc=4096,
        roi=7, roialign_batch=8, sampled=128, student_layer=None,
        student_stride=16),
    multidigits=dict(
        student='configs/_base_/models/resnet18-tiny_mlc.py',
        teacher='configs/_base_/models/wsddn_resnet18_tiny.py',
        num_classes=10, student_size=64, teacher_size=128, proposals=500,
        infer_batches=(1, 256), teacher_batch=64, train_batch=64,
        teacher_train_batch=16, matmul=8192, channels=32, fc=256, roi=7,
        roialign_batch=16, sampled=64, student_layer=('backbone.layer1', 16),
        student_stride=4),
    demo=dict(
        student='configs/_base_/models/resnet18-tiny_mlc.py',
        teacher='configs/_base_/models/wsddn_resnet18_tiny.py',
        num_classes=10, student_size=32, teacher_size=64, proposals=48,
        infer_batches=(1, 8), teacher_batch=8, train_batch=8,
        teacher_train_batch=8, matmul=1024, channels=32, fc=256, roi=4,
        roialign_batch=8, sampled=64, student_layer=('backbone.layer1', 16),
        student_stride=4),
    tiny=dict(
        student='configs/_base_/models/resnet18-tiny_mlc.py',
        teacher='configs/_base_/models/wsddn_resnet18_tiny.py',
        num_classes=10, student_size=32, teacher_size=64, proposals=16,
        infer_batches=(1, 4), teacher_batch=2, train_batch=4,
        teacher_train_batch=2, matmul=256, channels=32, fc=256, roi=3,
        roialign_batch=2, sampled=8, student_layer=('backbone.layer1', 16),
        student_stride=4))
#: The loaders the ``data`` section times (any setting): the benchmark's
#: distillation and baseline configs, on the large MultiDigits data.
DATA_CONFIGS = {
    'two views': 'configs/benchmarks/kdwsd_wsddn-resnet18-tiny_resnet18-'
    'tiny_1xb64-30e_multidigits-large-64px.py',
    'student view': 'configs/benchmarks/resnet18-tiny_1xb64-30e_'
    'multidigits-large-64px.py',
}
HEADER = ['section', 'measurement', 'setting', 'value', 'unit',
          'ratio / note']
#: Calls profiled per training step with ``--profile``, and the operators
#: listed.
PROFILE_STEPS = 5
PROFILE_TOP = 25


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='KD-WSD speed benchmark')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--setting', default='paper',
                        choices=['paper', 'multidigits', 'demo'])
    parser.add_argument('--tiny', action='store_true',
                        help='tiny sizes and repeats (CPU smoke test)')
    parser.add_argument('--out', default='work_dirs/benchmarks/speed')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--compile', choices=['auto', 'on', 'off'],
                        default='auto',
                        help='also time the student under torch.compile '
                        '(auto: on CUDA only)')
    parser.add_argument('--data-config', default=DATA_CONFIGS['two views'],
                        help='two-view (distillation) config whose train '
                        'loader is timed')
    parser.add_argument('--data-student-config',
                        default=DATA_CONFIGS['student view'],
                        help='student-only config whose train loader is '
                        'timed')
    parser.add_argument('--data-root', help='override their data_root')
    parser.add_argument('--proposal-file',
                        help='override the proposal file (relative to the '
                        'data root)')
    parser.add_argument('--workers', type=int,
                        help='override their num_workers')
    parser.add_argument('--data-batches', type=int, default=50)
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s; 1 with '
                        '--tiny)')
    parser.add_argument('--profile', action='store_true',
                        help='after timing each training step, profile '
                        'PROFILE_STEPS more (torch.profiler) and write the '
                        'top operators to OUT/profiles/; a "profile" row '
                        'per step says how busy the device was')
    parser.add_argument('--sections', nargs='+',
                        default=['data', 'infer', 'train', 'roialign',
                                 'flops'])
    return parser.parse_args(argv)


class Bench:
    """Holds the settings, the rows and the report file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = args.device
        self.cuda = args.device.startswith('cuda')
        self.s = dict(SETTINGS['tiny' if args.tiny else args.setting])
        self.rows = []
        self.profile_rows = []
        self.results = {}
        self.amp_dtype = torch.bfloat16
        self.failed = False

    # ------------------------------------------------------------ helpers
    def add(self, section, what, setting, value, unit, note=''):
        self.rows.append([section, what, setting, value, unit, note])
        print(f'[{section}] {what} ({setting}): {_fmt(value)} {unit} '
              f'{note}', flush=True)
        self.write()

    def write(self, final: bool = False) -> str:
        rows = [r[:3] + [_fmt(r[3])] + r[4:]
                for r in self.rows + self.profile_rows]
        size = 'tiny' if self.args.tiny else self.args.setting
        text = (f'## Speed benchmark ({size} setting, {self.device})\n\n'
                f'{markdown_table(HEADER, rows)}\n\n'
                f'{env_line(self.args, self.device)}'
                f'{"" if final else " (incomplete: still running)"}\n')
        write_report(text, osp.join(self.args.out, 'speed.md'))
        return text

    def time(self, fn, inner: int = 1, profile: str = None) -> float:
        """Median seconds per call of ``fn``; with ``--profile`` and a
        ``profile`` name, profile it afterwards (:meth:`profile`)."""
        seconds = median_time(fn, self.device, self.args.warmup,
                              self.args.repeats, inner)
        if profile and self.args.profile:
            try:
                self.profile(profile, fn, seconds)
            except Exception as e:  # the timing above is kept
                traceback.print_exc()
                self.profile_rows.append([
                    'profile', profile, 'failed', float('nan'), '',
                    f'{type(e).__name__}: {e}'[:300]
                ])
        return seconds

    def profile(self, name: str, fn, seconds: float) -> None:
        """Profile ``PROFILE_STEPS`` calls of ``fn``; write the operators
        that took the most device time (self CPU time on the CPU) to
        ``OUT/profiles/NAME.txt`` and add a row: on a GPU the device's busy
        time per call against the timed ``seconds`` (low: the host, not the
        device, sets the pace) and the kernels launched per call; on the
        CPU the top-level ATen operations per call."""
        from torch.autograd import DeviceType
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile
        activities = [ProfilerActivity.CPU]
        if self.cuda:
            activities.append(ProfilerActivity.CUDA)
        with torch_profile(activities=activities) as prof:
            for _ in range(PROFILE_STEPS):
                fn()
            synchronize(self.device)
        events = prof.key_averages()
        ops = sum(top_level_ops(prof).values()) / PROFILE_STEPS

        def cost(event) -> float:  # microseconds over the profiled calls
            if not self.cuda:
                return event.self_cpu_time_total
            return _device_us(event) \
                if event.device_type == DeviceType.CUDA else 0

        total = sum(cost(e) for e in events) or 1
        per_call = 1e3 * seconds
        lines = [f'{name}: {PROFILE_STEPS} calls profiled after timing '
                 f'({per_call:.2f} ms per call timed)']
        if self.cuda:
            kernels = [e for e in events if e.device_type == DeviceType.CUDA]
            busy = total / PROFILE_STEPS / 1e3
            launches = sum(e.count for e in kernels) / PROFILE_STEPS
            lines.append(f'device busy {busy:.2f} ms per call '
                         f'({100 * busy / per_call:.0f}% of the timed call), '
                         f'{launches:.0f} kernels per call')
        lines += [f'{ops:.0f} top-level ATen operations per call', '',
                  f'{"share":>6}  {"ms/call":>8}  {"count/call":>10}  '
                  f'operator (by {"device" if self.cuda else "self CPU"} '
                  'time)']
        for e in sorted(events, key=cost, reverse=True)[:PROFILE_TOP]:
            lines.append(f'{100 * cost(e) / total:5.1f}%  '
                         f'{cost(e) / PROFILE_STEPS / 1e3:8.3f}  '
                         f'{e.count / PROFILE_STEPS:10.1f}  {e.key[:100]}')
        path = osp.join(self.args.out, 'profiles', f'{name}.txt')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        if self.cuda:
            row = [100 * busy / per_call, '% device busy',
                   f'{busy:.2f} of {per_call:.2f} ms per call; '
                   f'{launches:.0f} kernels, {ops:.0f} top-level ATen ops '
                   f'per call; profiles/{name}.txt']
        else:
            row = [ops, 'top-level ATen ops per call', f'profiles/{name}.txt']
        # listed after the measurements
        self.profile_rows.append(['profile', name, f'{PROFILE_STEPS} calls'] +
                                 row)
        print(f'[profile] {name}: {_fmt(row[0])} {row[1]} {row[2]}',
              flush=True)

    def autocast(self, on: bool):
        if not on:
            return nullcontext()
        return torch.autocast(
            'cuda' if self.cuda else 'cpu', dtype=self.amp_dtype)

    # ------------------------------------------------------------ models
    def model_cfg(self, key: str) -> dict:
        from mmengine.config import Config
        model = copy.deepcopy(Config.fromfile(self.s[key]).model)
        _drop_pretrained(model)
        num_classes = self.s['num_classes']
        if key == 'student':
            model.head.num_classes = num_classes
        else:
            model.roi_head.bbox_head.num_classes = num_classes
            model.roi_head.bbox_roi_extractor.roi_layer.output_size = \
                self.s['roi']
            model.roi_head.bbox_head.roi_feat_size = self.s['roi']
        return model

    def build(self, cfg: dict) -> torch.nn.Module:
        from mmkdwsd.registry import MODELS
        model = MODELS.build(cfg)
        model.to(self.device)
        return model

    def student_inputs(self, batch: int, size=None):
        from mmpretrain.structures import DataSample
        size = size or self.s['student_size']
        x = torch.randn(batch, 3, size, size, device=self.device)
        samples = []
        for i in range(batch):
            score = torch.zeros(self.s['num_classes'], device=self.device)
            score[[i % self.s['num_classes'], 0]] = 1
            sample = DataSample(metainfo=dict(img_shape=(size, size)))
            sample.set_gt_label(score.nonzero().flatten())
            sample.set_gt_score(score)
            samples.append(sample)
        return x, samples

    def teacher_inputs(self, batch: int):
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        size, num = self.s['teacher_size'], self.s['proposals']
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(batch, 3, size, size, device=self.device)
        samples = []
        for i in range(batch):
            xy = torch.rand(num, 2, generator=gen) * size * 0.8
            wh = (torch.rand(num, 2, generator=gen) * 0.45 + 0.05) * size
            boxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], 1)
            sample = DetDataSample(
                metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                              scale_factor=(1., 1.)))
            sample.proposals = InstanceData(
                bboxes=boxes.to(self.device),
                scores=torch.rand(num, generator=gen).to(self.device))
            sample.gt_label = torch.tensor([i % self.s['num_classes']],
                                           device=self.device)
            samples.append(sample)
        return x, samples


def _device_us(event) -> float:
    """An averaged profiler event's device time (microseconds, all calls);
    older torch names it ``cuda_time_total``."""
    total = getattr(event, 'device_time_total', None)
    return getattr(event, 'cuda_time_total', 0) if total is None else total


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if value is None or not math.isfinite(value):
        return 'nan'
    if abs(value) >= 100:
        return f'{value:,.0f}'
    return f'{value:.3g}'


def _drop_pretrained(cfg) -> None:
    """Random initialisation: no checkpoint downloads."""
    if isinstance(cfg, dict):
        for key in ('init_cfg', 'fcs_init_cfg'):
            if key in cfg:
                cfg[key] = None
        for value in cfg.values():
            _drop_pretrained(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _drop_pretrained(value)


# ---------------------------------------------------------------- sections
def _loader_cfg(b: Bench, path: str):
    """A config and its train loader pointed at ``--data-root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    loader = copy.deepcopy(cfg.train_dataloader)
    dataset = base_dataset(loader)
    if b.args.data_root:
        dataset.data_root = osp.abspath(b.args.data_root) + '/'
    if b.args.proposal_file and dataset.get('proposal_file'):
        dataset.proposal_file = b.args.proposal_file
    if b.args.workers is not None:
        loader.num_workers = b.args.workers
        loader.persistent_workers = b.args.workers > 0
    loader.pin_memory = b.cuda
    return cfg, loader, dataset


def _per_image_loader(cfg, loader, dataset):
    """The fast path's two-view loader as the per-image pipeline: the
    config's validation pipeline (load, proposals, both views) with the
    training flip, ``stack_collate``."""
    val = list(cfg.val_pipeline)
    flip = dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[dict(type='mmdet.RandomFlip', prob=0.5)])
    loader = copy.deepcopy(loader)
    loader.collate_fn = dict(type='mmkdwsd.stack_collate')
    loader.dataset = dict(dataset, pipeline=val[:2] + [flip] + val[2:])
    return loader


def _build_loader(loader_cfg):
    from mmengine.runner import Runner
    return Runner.build_dataloader(loader_cfg, seed=0)


def _time_loader(b: Bench, data, preprocessor=None) -> float:
    """Images/s of a DataLoader (and a preprocessor on the device)."""

    def fetch(it):
        batch = next(it)
        if preprocessor is not None:
            batch = preprocessor(batch, True)
        inputs = batch['images'] if 'images' in batch else batch['inputs']
        if isinstance(inputs, dict):
            inputs = inputs['student']
        return len(inputs)

    it = iter(data)
    fetch(it)  # worker start-up, cache build
    synchronize(b.args.device)
    count, start = 0, time.perf_counter()
    for _ in range(b.args.data_batches):
        try:
            count += fetch(it)
        except StopIteration:
            it = iter(data)
            count += fetch(it)
    synchronize(b.args.device)
    return count / (time.perf_counter() - start)


def _preprocessor(b: Bench, cfg, size=None):
    """The config's model's data preprocessor on the device (its views
    resized to ``size`` when given)."""
    model_cfg = copy.deepcopy(cfg.model)
    if 'teacher_ckpt' in model_cfg:
        model_cfg.teacher_ckpt = None  # only the preprocessor is used
    if size is not None:
        model_cfg.data_preprocessor.views = [
            dict(view, scales=[size])
            for view in model_cfg.data_preprocessor.views
        ]
    return b.build(model_cfg).data_preprocessor


def _packing_rate(b: Bench, cfg, data) -> float:
    """Images/s of the preprocessor's per-image host work alone: one batch
    of the DataLoader's dataset with its images cut to 8 x 8 pixels, so
    that the tensor work is nil and what is timed is building, moving and
    checking the data samples."""
    size = min(data.batch_size, len(data.dataset))
    batch = data.dataset.__getitems__(list(range(size)))[0]
    batch['images'] = batch['images'][:, :8, :8].contiguous()
    preprocessor = _preprocessor(b, cfg, size=8)
    return len(batch['images']) / b.time(lambda: preprocessor(batch, True))


def bench_data(b: Bench) -> None:
    """The per-image pipeline and the fast path (PreDecodedDataset +
    PreDecodedDataPreprocessor on the device) of the benchmark's loaders."""
    rows = []
    for view in ('two views', 'student view'):
        path = (
            b.args.data_config
            if view == 'two views' else b.args.data_student_config)
        cfg, loader, dataset = _loader_cfg(b, path)
        ann = osp.join(dataset.data_root, dataset.ann_file)
        setting = (f'{osp.basename(path)}, batch {loader.batch_size}, '
                   f'{loader.num_workers} workers')
        if not osp.isfile(ann):
            b.add('data', f'train loader ({view})', setting, float('nan'),
                  'img/s', f'skipped: no dataset at {dataset.data_root}')
            return
        if view == 'two views':
            rate = _time_loader(
                b, _build_loader(_per_image_loader(cfg, loader, dataset)))
            b.results['data_per_image'] = rate
            rows.append(('train pipeline alone (per-image, two views, '
                         'stack_collate)', setting, rate, ''))
        # the workers' side alone, then with the preprocessor's flip,
        # resize and packing on the device (on a CPU device that work
        # competes with the workers for the same cores)
        fast = _build_loader(loader)  # one dataset for the three rows
        alone = _time_loader(b, fast)
        note = ''
        if view == 'two views':
            note = (f'{alone / b.results["data_per_image"]:.1f}x the '
                    'per-image pipeline')
        rows.append((f'fast path ({view}): PreDecodedDataset loader alone',
                     setting, alone, note))
        rate = _time_loader(b, fast, _preprocessor(b, cfg))
        b.results[f'data_{view.split()[0]}'] = rate
        rows.append((f'fast path ({view}): PreDecodedDataset + '
                     f'PreDecodedDataPreprocessor on {b.args.device}', setting,
                     rate, ''))
        rows.append((f'fast path ({view}): data samples alone (the '
                     "preprocessor's per-image host work, 8 px images)",
                     setting, _packing_rate(b, cfg, fast),
                     'main process, single thread of Python'))
    for what, setting, rate, note in rows:
        b.add('data', what, setting, rate, 'img/s', note)


def bench_infer(b: Bench) -> None:
    s = b.s
    student = b.build(b.model_cfg('student'))
    student.eval()
    rates = {}
    compile_on = b.args.compile == 'on' or (b.args.compile == 'auto'
                                            and b.cuda and not b.args.tiny)
    modes = [('fp32', False), ('bf16 autocast, channels_last', True)]
    for dtype, amp in modes:
        if amp:
            student.to(memory_format=torch.channels_last)
        for batch in s['infer_batches']:
            x, _ = b.student_inputs(batch)
            if amp:
                x = x.contiguous(memory_format=torch.channels_last)

            def fn(x=x, amp=amp):
                with torch.inference_mode(), b.autocast(amp):
                    return student(x, mode='tensor')

            rate = batch / b.time(fn)
            rates[(dtype, batch)] = rate
            b.add('infer', 'student', f'{s["student_size"]} px, batch '
                  f'{batch}, {dtype}', rate, 'img/s')
    big = max(s['infer_batches'])
    b.results['student_bf16'] = rates[(modes[1][0], big)]
    if compile_on:
        compiled = torch.compile(student)
        x, _ = b.student_inputs(big)
        x = x.contiguous(memory_format=torch.channels_last)

        def fn_c():
            with torch.inference_mode(), b.autocast(True):
                return compiled(x, mode='tensor')

        setting = f'{s["student_size"]} px, batch {big}, bf16'
        try:
            rate = big / b.time(fn_c)
        except Exception as e:  # a compiler failure must not end the run
            b.add('infer', 'student, torch.compile', setting, float('nan'),
                  'img/s', f'failed: {type(e).__name__}: {e}'[:300])
        else:
            b.results['student_compiled'] = rate
            b.add('infer', 'student, torch.compile', setting, rate, 'img/s',
                  f'{rate / rates[(modes[1][0], big)]:.2f}x eager bf16')
    student = None  # frees it (rebinding: the closures above read it)
    teacher = b.build(b.model_cfg('teacher'))
    teacher.eval()
    x, samples = b.teacher_inputs(s['teacher_batch'])
    for dtype, amp in (('fp32', False),
                       ('bf16 convs, fp32 RoIAlign', True)):

        def fn(amp=amp):
            with torch.inference_mode(), b.autocast(amp):
                return teacher.predict_regions(x, samples)

        rate = s['teacher_batch'] / b.time(fn)
        key = (modes[1][0] if amp else 'fp32', big)
        b.add('infer', 'teacher (WSDDN.predict_regions)',
              f'{s["teacher_size"]} px, {s["proposals"]} proposals, batch '
              f'{s["teacher_batch"]}, {dtype}', rate, 'img/s',
              f'student batch {big} is {rates[key] / rate:.1f}x faster '
              '(target >= 8x)')


def _step(model, optimizer, loss_fn, amp: bool, bench: Bench):
    def fn():
        with bench.autocast(amp):
            losses = loss_fn()
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return fn


def bench_train(b: Bench) -> None:
    s = b.s
    amp = b.cuda
    dtype = 'bf16 autocast' if amp else 'fp32'
    batch = s['train_batch']
    sgd = dict(lr=1e-4, momentum=0.9)

    student = b.build(b.model_cfg('student'))
    student.train()
    xs, ss = b.student_inputs(batch)
    opt = torch.optim.SGD(student.parameters(), **sgd)
    t_student = b.time(_step(student, opt, lambda: student.loss(xs, ss), amp,
                             b), profile='baseline')
    base_rate = batch / t_student
    b.add('train', 'baseline student step', f'{s["student_size"]} px, batch '
          f'{batch}, {dtype}', base_rate, 'img/s')
    student = opt = None

    teacher = b.build(b.model_cfg('teacher'))
    teacher.train()
    xt, st = b.teacher_inputs(s['teacher_train_batch'])
    opt = torch.optim.SGD(
        [p for p in teacher.parameters() if p.requires_grad], **sgd)
    t = b.time(_step(teacher, opt, lambda: teacher.loss(xt, st), amp, b),
               profile='teacher')
    b.add('train', 'teacher step (WSDDN)', f'{s["teacher_size"]} px, '
          f'{s["proposals"]} proposals, batch {s["teacher_train_batch"]}, '
          f'{dtype}', s['teacher_train_batch'] / t, 'img/s')
    teacher = opt = None

    xt, st = b.teacher_inputs(batch)
    xs, ss = b.student_inputs(batch)
    inputs = dict(teacher=xt, student=xs)
    # the student samples of the cached stages carry their soft targets
    cached = copy.deepcopy(ss)
    for sample in cached:
        sample.set_field(
            torch.rand(s['num_classes'], device=b.device), 'soft_target')
    rates = {}
    stages = ['stage1', 'stage2', 'stage2-feat']
    if s['sampled'] < s['proposals']:  # else sampling draws every region
        stages += ['stage1-sampled', STAGE1_TEACHER_ALL,
                   'stage2-feat-sampled', 'stage2-feat-sampled-cached',
                   'stage1-sampled-separable']
    else:
        stages.append('stage1-separable')
    for stage in stages:
        kd = build_distiller(b, stage)
        kd.train()
        if stage == 'stage1':  # teacher forward alone, same batch
            def fwd():
                with b.autocast(amp):
                    return kd.get_teacher_outputs(xt, st)
            t_teacher = b.time(fwd, profile='teacher-forward')
            b.add('train', 'teacher forward (frozen, no grad)',
                  f'{s["teacher_size"]} px, batch {batch}, {dtype}',
                  batch / t_teacher, 'img/s')
        opt = torch.optim.SGD(
            [p for p in kd.parameters() if p.requires_grad], **sgd)
        samples = dict(
            teacher=st, student=cached if stage.endswith('-cached') else ss)
        t = b.time(_step(kd, opt, lambda: kd.loss(inputs, samples), amp, b),
                   profile=stage)
        rates[stage] = batch / t
        what = dict(stage1='distillation stage 1 step (feature level)',
                    stage2='distillation stage 2 step (prediction level + '
                    'labels)',
                    **{'stage2-feat': 'distillation stage 2 step keeping '
                       'the feature level (the main job\'s)'})[
                           stage.split('-sampled')[0].replace(
                               '-separable', '')]
        if '-sampled' in stage:
            what += (f', {s["sampled"]} of the {s["proposals"]} regions '
                     'per image (the configs\' num_sampled)')
        if stage.endswith('-cached'):
            what += (', cached soft targets (the teacher runs on the drawn '
                     'regions only)')
        if stage == STAGE1_TEACHER_ALL:
            what += (', the teacher computing the features of all '
                     f'{s["proposals"]} (as before the draw preceded it)')
        if stage.endswith('-separable'):
            what += ', roi_op=\'separable\''
        b.add('train', what, f'batch {batch}, {dtype}', batch / t, 'img/s',
              f'{t / (t_teacher + t_student):.2f}x (teacher fwd + student '
              f'step) (target <= 1.15); {t / t_student:.2f}x baseline step '
              'time')
        kd = opt = None

    # stage 2 on cached soft targets (tools/cache_soft_targets.py): the
    # student view alone, the teacher does not run
    kd = b.build(_distiller_cfg(b, 'stage2-cached'))
    kd.train()
    opt = torch.optim.SGD(
        [p for p in kd.parameters() if p.requires_grad], **sgd)
    t = b.time(_step(kd, opt, lambda: kd.loss(xs, cached), amp, b),
               profile='stage2-cached')
    rates['stage2-cached'] = batch / t
    b.add('train', 'distillation stage 2 step, cached soft targets',
          f'batch {batch}, {dtype}', batch / t, 'img/s',
          f'{t / t_student:.2f}x baseline step time (target <= 1.2)')
    kd = opt = None
    b.results['train_max'] = max([base_rate] + list(rates.values()))
    b.results['train_kd_max'] = max(
        rate for stage, rate in rates.items() if stage != 'stage2-cached')


#: Stage 1 with sampled regions as it ran before the distiller drew them
#: ahead of the teacher: the teacher computes every region's features and
#: the region distiller draws afterwards (same draw, same loss).
STAGE1_TEACHER_ALL = 'stage1-sampled-teacher-all'


def build_distiller(b: Bench, stage: str):
    """The distiller of a stage of the ``train`` section."""
    kd = b.build(_distiller_cfg(b, stage))
    if stage == STAGE1_TEACHER_ALL:
        kd.region_distiller.draw_proposals = lambda proposals: None
    return kd


def _distiller_cfg(b: Bench, stage: str) -> dict:
    s = b.s
    # the student map the configs pool the regions from (None: the last)
    layer, channels = s['student_layer'] or (None, s['channels'])
    feat = dict(
        student_layer=layer, in_channels=channels, out_channels=s['fc'],
        hidden_channels=(s['fc'], ), roi_size=s['roi'], sampling_ratio=2,
        regions='all', objectness_weight=True,
        num_sampled=s['sampled'] if '-sampled' in stage else None,
        roi_op='separable' if stage.endswith('-separable') else 'mmcv',
        loss=dict(type='RegionFeatureLoss'))
    pred = dict(cls_temperature=0.5, det_temperature=0.5,
                student_temperature=5.0, learnable_scale=True,
                loss=dict(type='MultiLabelKDLoss'))
    return dict(
        type='KDWSDDistiller',
        teacher_cfg=b.model_cfg('teacher'),
        student=b.model_cfg('student'),
        num_classes=s['num_classes'],
        sup_weight=0.0 if stage.startswith('stage1') else 1.0,
        feat_distill=feat if stage.startswith(('stage1', 'stage2-feat'))
        else None,
        pred_distill=None if stage.startswith('stage1') else dict(
            pred, soft_targets='cached' if stage.endswith('-cached') else
            'online'))


def bench_roialign(b: Bench) -> None:
    from mmcv.ops import RoIAlign
    from torchvision.ops import roi_align
    s = b.s
    n, size = s['roialign_batch'], s['teacher_size'] // 16
    _, samples = b.teacher_inputs(n)
    rois = torch.cat([
        torch.cat([torch.full((len(p.proposals), 1), float(i),
                              device=b.device), p.proposals.bboxes], 1)
        for i, p in enumerate(samples)
    ])
    feat = torch.randn(n, s['channels'], size, size, device=b.device,
                       requires_grad=True)
    mmcv_op = RoIAlign(s['roi'], 1 / 16, sampling_ratio=2, aligned=True)

    def tv_op(f, r):
        return roi_align(f, r, s['roi'], 1 / 16, 2, aligned=True)

    with torch.no_grad():
        diff = (mmcv_op(feat, rois) - tv_op(feat, rois)).abs().max().item()
    setting = (f'{n} images x {s["proposals"]} RoIs, {s["channels"]} x '
               f'{size} x {size} maps, {s["roi"]}x{s["roi"]}, fp32')
    for what, backward in (('forward', False), ('forward + backward', True)):
        times = {}
        for name, op in (('mmcv', mmcv_op), ('torchvision', tv_op)):

            def fn(op=op):
                if backward:
                    op(feat, rois).sum().backward()
                else:
                    with torch.no_grad():
                        op(feat, rois)

            times[name] = b.time(fn) * 1e3
        b.add('roialign', f'mmcv RoIAlign, {what}', setting, times['mmcv'],
              'ms', f'max abs diff to torchvision {diff:.1e}')
        b.add('roialign', f'torchvision roi_align, {what}', setting,
              times['torchvision'], 'ms',
              'mmcv / torchvision time '
              f'{times["mmcv"] / times["torchvision"]:.2f}')
    _student_regions_roialign(b)


def _student_regions_roialign(b: Bench) -> None:
    """The feature level's pooling (the configs' sampled regions from the
    student map, forward + backward): mmcv's RoIAlign against
    ``separable_roi_align`` (``feat_distill.roi_op='separable'``)."""
    from mmcv.ops import roi_align

    from mmkdwsd.models.utils import rois_from_boxes, separable_roi_align
    s = b.s
    n, per_image = s['train_batch'], min(s['sampled'], s['proposals'])
    channels = (s['student_layer'] or (None, s['channels']))[1]
    size = s['student_size'] // s['student_stride']
    _, samples = b.teacher_inputs(n)
    scale = s['student_size'] / s['teacher_size']
    boxes = torch.stack(
        [p.proposals.bboxes[:per_image] * scale for p in samples])
    rois = rois_from_boxes(boxes)
    feat = torch.randn(n, channels, size, size, device=b.device,
                       requires_grad=True)
    spatial = 1 / s['student_stride']

    def mmcv_op(f):
        return roi_align(f, rois, s['roi'], spatial, 2, 'avg', True)

    def separable_op(f):
        return separable_roi_align(f, boxes, s['roi'], spatial, 2)

    with torch.no_grad():
        diff = (mmcv_op(feat) - separable_op(feat)).abs().max().item()
    setting = (f'{n} images x {per_image} regions, {channels} x {size} x '
               f'{size} student maps, {s["roi"]}x{s["roi"]}')
    ops = [('mmcv RoIAlign', mmcv_op, False),
           ('separable_roi_align', separable_op, False)]
    if b.cuda:
        ops.append(('separable_roi_align', separable_op, True))
    t_mmcv = None
    for name, op, amp in ops:

        def fn(op=op, amp=amp):
            with b.autocast(amp):
                out = op(feat)
            out.float().sum().backward()

        ms = b.time(fn) * 1e3
        notes = []
        if t_mmcv is None:  # the first row: mmcv's
            t_mmcv = ms
        else:
            if not amp:
                notes.append(f'max abs diff to mmcv {diff:.1e}')
            notes.append(f'mmcv / separable time {t_mmcv / ms:.2f}')
        b.add('roialign', f'student regions: {name}, forward + backward',
              f'{setting}, {"bf16 autocast" if amp else "fp32"}', ms, 'ms',
              '; '.join(notes))


def bench_flops(b: Bench) -> None:
    from mmengine.analysis import get_model_complexity_info
    s = b.s
    student = b.build(b.model_cfg('student'))
    student.eval()
    size = s['student_size']
    info = get_model_complexity_info(
        student, input_shape=(3, size, size), show_table=False,
        show_arch=False)
    flops_per_img = 2.0 * info['flops']  # multiply-adds -> FLOPs
    b.add('flops', 'student inference FLOPs', f'{size} px, per image',
          flops_per_img / 1e9, 'GFLOP',
          'mmengine complexity analysis, 2 FLOPs per multiply-add')
    n = s['matmul']
    dtype = torch.bfloat16 if b.cuda else torch.float32
    a = torch.randn(n, n, device=b.device, dtype=dtype)
    c = torch.randn(n, n, device=b.device, dtype=dtype)
    t = b.time(lambda: a @ c, inner=10 if b.cuda else 1)
    rate = 2 * n**3 / t
    b.add('flops', f'matmul {n}x{n}', str(dtype).replace('torch.', ''),
          rate / 1e12, 'TFLOP/s', 'measured now')
    for key, what in (('student_bf16', 'student inference FLOP rate'),
                      ('student_compiled',
                       'student inference FLOP rate, torch.compile')):
        if key not in b.results:
            continue
        achieved = flops_per_img * b.results[key]
        b.add('flops', what,
              f'batch {max(s["infer_batches"])}, bf16 autocast',
              achieved / 1e12, 'TFLOP/s',
              f'{100 * achieved / rate:.1f}% of the matmul rate '
              '(target >= 50%)')


def run(args: argparse.Namespace) -> str:
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if args.tiny:
        args.warmup, args.repeats = 1, 2
        args.data_batches = min(args.data_batches, 2)
        args.threads = args.threads or 1
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device.startswith('cuda'):
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
    b = Bench(args)
    sections = dict(data=bench_data, infer=bench_infer, train=bench_train,
                    roialign=bench_roialign, flops=bench_flops)
    for name in ['data', 'infer', 'train', 'roialign', 'flops']:
        if name not in args.sections:
            continue
        try:
            sections[name](b)
            synchronize(args.device)
        except Exception as e:
            # One GPU call measures everything: record the failure, go on.
            traceback.print_exc()
            b.add(name, 'section failed', '', float('nan'), '',
                  f'{type(e).__name__}: {e}'[:300])
            b.failed = True
    if 'data_student' in b.results and 'train_max' in b.results:
        b.add('data', 'student-view fast path / fastest training throughput',
              '', b.results['data_student'] / b.results['train_max'], 'x',
              'target >= 2')
    if 'data_two' in b.results and 'train_kd_max' in b.results:
        b.add('data', 'two-view fast path / fastest two-view distillation '
              'step', '', b.results['data_two'] / b.results['train_kd_max'],
              'x', 'target >= 2')
    text = b.write(final=True)
    if b.failed:
        print('\n' + text, flush=True)
        sys.exit('speed.py: a section failed (its row says why; the '
                 'traceback is above)')
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    args.out = osp.abspath(args.out)
    for key in ('data_config', 'data_student_config', 'data_root'):
        path = getattr(args, key)
        if path is not None and osp.exists(path):
            setattr(args, key, osp.abspath(path))
    os.chdir(_ROOT)  # configs name files relative to the repository
    print('\n' + run(args), flush=True)


if __name__ == '__main__':
    main()
