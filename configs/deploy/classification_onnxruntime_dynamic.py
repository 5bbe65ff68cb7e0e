# mmdeploy deploy config: the exported mmkdwsd student (a plain
# mmpretrain.ImageClassifier) -> ONNX -> ONNX Runtime, dynamic batch size.
# mmdeploy 1.3.1 ships its deploy configs only in its source tree, not in the
# wheel, so the project carries its own.
#
# The model's output `output` is (batch, num_classes) class probabilities:
# mmdeploy's ImageClassifier rewriter appends a sigmoid because the head
# subclasses mmpretrain's MultiLabelClsHead.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    # The TorchScript exporter of torch 2.13/2.14 supports opsets 7-20.
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    # None: the image size comes from the model config's `test_pipeline`.
    input_shape=None,
    # The mmdeploy 1.3.1 wheel ships no `ts_optimizer` extension, and its
    # graph passes hook `torch.onnx.utils._model_to_graph`, which torch 2.14
    # only re-exports (the exporter calls its own copy): they would not run.
    optimize=False,
    dynamic_axes={
        'input': {
            0: 'batch'
        },
        'output': {
            0: 'batch'
        }
    })

codebase_config = dict(type='mmpretrain', task='Classification')

backend_config = dict(type='onnxruntime')
