"""Registered model → verified bundle: ONNX export, parity, INT8 and its gate, calibration, latency,
bundle manifest, sensitivity, TensorRT (:mod:`.trt`); :mod:`.build` runs them in order.

The public entry is :func:`biogate.exporters.export` (defined in :mod:`.build`).
"""
