"""The kiosk main job on generated data (``biogate demo`` / ``make demo``).

On a fresh machine with no camera and no gate: build (or reuse) the model bundles, enrol the
demo identities, start the gate-controller firmware simulator on a pseudo-terminal, and run the
kiosk pipeline on a scripted walk-up sequence — two enrolled people, an unknown person, a
printed-photo attack and a feverish enrolled person — printing each decision with its reasons
and a latency table.  Exit status 0 only if every visitor got the expected decision.

Faces are the real photographs of :mod:`biogate.exporters.data.face_data`; a visitor is enrolled
from one augmented view of their photo and walks up as other views (the offline data has no
second photo of anyone).  The print attack is :func:`biogate.exporters.pad.attacks.apply_attack`
("print_photo"); temperatures come from the radiometric scene renderer of ``synthetic://thermal``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from biogate.frame import Frame, now_ns

# face_detect_any is built for `biogate detect` (same cache folder); the kiosk's "auto" detector
# takes it once its bundle is fit (docs/face.md), so the demo does not build it before then.
KIOSK_MODELS = (
    "mtcnn_pnet",
    "mtcnn_rnet",
    "mtcnn_onet",
    "face_embed_dlib",
    "face_liveness",
)
KIOSK_MODELS_NO_LIVENESS = KIOSK_MODELS[:-1]
FRAME_W, FRAME_H = 640, 480
PAPER_C = 22.5  # a print held up at the kiosk, a little above the 22 °C room


@dataclass(frozen=True)
class Visitor:
    """One person (or attack) walking up to the kiosk, and the decision the kiosk must make."""

    label: str
    identity: str
    enrolled: bool
    expect: str  # "open" | "deny" | "alarm"
    attack: str | None = None
    core_c: float = 36.6


VISITORS = (
    Visitor("enrolled: Eileen", "eileen_collins", True, "open"),
    Visitor("enrolled: person 2", "t1_person2", True, "open"),
    Visitor("unknown person", "t1_person3", False, "deny"),
    Visitor("printed photo of Eileen", "eileen_collins", True, "deny", attack="print_photo"),
    Visitor("enrolled, feverish", "t1_person0", True, "alarm", core_c=38.4),
)


#: The files the kiosk bundles are made from (nets, registry modules, weights, the exporter).
_KIOSK_SOURCES = (
    "nets/mtcnn.py", "nets/dlib_resnet.py", "nets/liveness.py", "zoo/mtcnn*.py", "zoo/face_embed*.py",
    "zoo/face_liveness.py", "weights/liveness_*", "nets/dlib_reader.py", "convert/build.py",
    "convert/onnx_export.py", "convert/bundle_writer.py", "registry.py",
    "nets/face_any.py", "zoo/face_detect_any.py", "weights/face_any.*",
)  # fmt: skip


def _weights_digest() -> str:
    """Hash of the kiosk models' code and weights, so cached bundles are rebuilt when they change."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for pattern in _KIOSK_SOURCES for p in root.glob(pattern)):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def build_bundles(cache: Path, log=print, models: tuple[str, ...] = KIOSK_MODELS) -> Path:
    """Export the kiosk's models to ``cache/bundles-<digest>/`` unless already there."""
    from biogate.bundle import open_bundle

    from .convert.build import export

    folder = cache / f"bundles-{_weights_digest()}"
    for name in models:
        target = folder / name
        if (target / "manifest.json").exists():
            try:
                open_bundle(target)
                continue
            except Exception as exc:  # a damaged cache is rebuilt, never trusted
                log(f"  cached bundle {target} unusable ({exc}); rebuilding")
        t0 = time.monotonic()
        export(name, folder, parity_samples=4, measure_latency=False)
        log(f"  built {name} in {time.monotonic() - t0:.0f} s")
    return folder


def _faces() -> dict[str, object]:
    from .data.face_data import load_faces

    return {s.identity: s for s in load_faces(min_size=40, margin=0.6, lfw=False)}


def _view(sample, seed: int) -> np.ndarray:
    from .data.face_data import augmented_views

    return augmented_views(sample, 1, seed=seed)[0].image


def _background(seed: int) -> np.ndarray:
    from skimage import data

    wall = cv2.resize(data.coffee(), (FRAME_W, FRAME_H))[:, :, ::-1]
    return cv2.GaussianBlur(wall, (0, 0), 9) // 2 + 60 + np.uint8(seed % 7)


def _compose(
    face_rgb: np.ndarray, background_bgr: np.ndarray, jitter: tuple[int, int], side: int
) -> np.ndarray:
    frame = background_bgr.copy()
    face = cv2.resize(face_rgb[:, :, ::-1], (side, side), interpolation=cv2.INTER_AREA)
    x0 = (FRAME_W - side) // 2 + jitter[0]
    y0 = (FRAME_H - side) // 2 + jitter[1]
    frame[y0 : y0 + side, x0 : x0 + side] = face
    return frame


class WalkUp:
    """The scripted RGB stream: each visitor stands at the kiosk for ``dwell_s``, then leaves."""

    def __init__(
        self, visitors=VISITORS, fps: float = 15.0, dwell_s: float = 1.6, gap_s: float = 0.6, seed: int = 3
    ) -> None:
        faces = _faces()
        self.visitors = visitors
        self.fps = fps
        self.segments: list[tuple[int, int, Visitor]] = []  # (t_start_ns, t_end_ns, visitor) once run
        self.current: Visitor | None = None
        self._stop = threading.Event()
        rng = np.random.default_rng(seed)
        self._scenes = []
        for k, visitor in enumerate(visitors):
            views = [_view(faces[visitor.identity], seed=100 + 10 * k + j) for j in range(3)]
            if visitor.attack:
                from .pad.attacks import apply_attack

                views = [apply_attack(v, visitor.attack, seed=7 + j) for j, v in enumerate(views)]
            self._scenes.append((visitor, views))
        self._n_dwell = int(dwell_s * fps)
        self._n_gap = int(gap_s * fps)
        self._rng = rng
        self._bg = _background(seed)

    def enrol_views(self) -> dict[str, np.ndarray]:
        """One enrolment image (RGB) per enrolled identity, different from every walk-up view."""
        faces = _faces()
        return {
            v.identity: _view(faces[v.identity], seed=1) for v in self.visitors if v.enrolled and not v.attack
        }

    def __iter__(self) -> Iterator[Frame]:
        period = 1.0 / self.fps
        seq = 0
        next_t = time.monotonic()
        for visitor, views in self._scenes:
            start = now_ns()
            for i in range(self._n_dwell + self._n_gap):
                if self._stop.is_set():
                    return
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # paced like a camera: one frame per period
                next_t += period
                if i < self._n_dwell:
                    self.current = visitor
                    jitter = tuple(int(v) for v in self._rng.integers(-6, 7, 2))
                    image = _compose(views[i % len(views)], self._bg, jitter, side=260)
                    if i % 5 == 4:  # a moment of motion blur the sharpness gate must reject
                        image = cv2.GaussianBlur(image, (0, 0), 3.0)
                else:
                    self.current = None
                    image = self._bg
                yield Frame(image, "bgr8", t_capture=now_ns(), seq=seq, source="demo://walkup")
                seq += 1
            self.segments.append((start, now_ns(), visitor))
        self.current = None

    def close(self) -> None:
        self._stop.set()


class ScriptedThermal:
    """A thermal camera beside the RGB one: renders the visitor in front of it at their temperature.

    Frames are raw ``y16`` centi-kelvin with the scene's blackbody reference in view; the kiosk's
    ``[thermal] blackbody_roi``/``blackbody_c`` make :class:`biogate.models.ThermalFace` correct them.
    """

    def __init__(self, walkup: WalkUp, skin_offset_c: float = 1.1) -> None:
        self.walkup = walkup
        self.skin_offset_c = skin_offset_c
        self._index = 0

    @staticmethod
    def blackbody() -> tuple[list[int], float]:
        from biogate.capture.synthetic_scenes import thermal_layout

        return list(thermal_layout(160, 120)["blackbody"]), 35.0

    def read(self, timeout: float | None = None) -> Frame | None:
        from biogate.capture.synthetic_scenes import render_thermal

        visitor = self.walkup.current
        if visitor is None:
            return None
        self._index += 1
        if visitor.attack:  # a printed photo or a screen: the "face" is at room temperature
            y16, _ = render_thermal(self._index, seed=11, skin_c=PAPER_C, ffc_period=0)
            return Frame(y16, "y16", t_capture=now_ns(), seq=self._index, source="demo://thermal",
                         meta={"ambient_c": 22.0})  # fmt: skip
        y16, _ = render_thermal(
            self._index, seed=11, skin_c=visitor.core_c - self.skin_offset_c, ffc_period=0
        )
        return Frame(
            y16, "y16", t_capture=now_ns(), seq=self._index, source="demo://thermal", meta={"ambient_c": 22.0}
        )

    def close(self) -> None:
        pass


def _enrol(bundles: Path, gallery, views: dict[str, np.ndarray], log) -> None:
    from biogate.models import FaceEmbedder, MTCNNDetector

    detector = MTCNNDetector.from_bundles(bundles, min_face=40)
    embedder = FaceEmbedder.from_bundle(bundles / "face_embed_dlib")
    for identity, rgb in views.items():
        faces = detector.detect(rgb, order="RGB")
        if len(faces) != 1:
            raise RuntimeError(f"demo enrolment: expected one face for {identity}, found {len(faces)}")
        emb = embedder.embed(rgb, faces, order="RGB")[0].embedding
        gallery.enroll(identity, identity.replace("_", " "), emb[None, :])
    log(f"  enrolled {len(views)} identities: {', '.join(views)}")


def _print_decision(record) -> None:
    d = record.decision
    who = d.identity or "unknown"
    scores = ", ".join(f"{k}={v:.3g}" for k, v in d.scores.items())
    print(
        f"  {d.action.upper():<6} {who:<16} {scores:<52} {'; '.join(d.reasons)}"
        f"  [{record.latencies_ms['capture_to_gate']:.0f} ms]"
    )


def _judge(walkup: WalkUp, records) -> list[tuple[Visitor, list[str], bool]]:
    verdicts = []
    for t0, t1, visitor in walkup.segments:
        actions = [r.decision.action for r in records if t0 <= r.decision.t_capture <= t1]
        verdicts.append((visitor, actions, bool(actions) and all(a == visitor.expect for a in actions)))
    return verdicts


def _latency_table(stats: dict) -> None:
    rows = [(name, s) for name, s in stats["stages"].items()]
    rows += [
        ("frame age at pickup", stats["input_age"]["detect"]),
        ("frame age at sink", stats["frame_age_at_decision"]),
        ("capture → gate", stats["capture_to_gate"]),
    ]
    print(f"\n  {'latency':<24}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, s in rows:
        print(f"  {name:<24}{s['count']:>6}{s['p50_ms']:>10.1f}{s['p99_ms']:>10.1f}{s['max_ms']:>10.1f}")


def run_kiosk_demo(
    workdir: str | Path | None = None,
    fps: float = 15.0,
    cache: str | Path | None = None,
    liveness: bool = True,
) -> int:
    """The whole demo; returns the process exit status (0 = every decision as expected).

    ``liveness=False`` runs without the liveness model (and without the print-attack visitor).
    """
    import tempfile

    from biogate.firmware_bridge import GateClient, GateSimulator
    from biogate.firmware_bridge.keys import generate_key_file, load_key
    from biogate.gallery import Gallery, GalleryKey
    from biogate.kiosk.app import build_kiosk
    from biogate.kiosk.config import parse_config

    work = Path(workdir or tempfile.mkdtemp(prefix="biogate-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(cache or os.environ.get("BIOGATE_CACHE") or Path.home() / ".cache" / "biogate")
    print(f"biogate kiosk demo (work folder {work})")
    print("1. model bundles")
    bundles = build_bundles(cache, models=KIOSK_MODELS if liveness else KIOSK_MODELS_NO_LIVENESS)
    print(f"  {bundles}")

    print("2. enrolment")
    (work / "keys").mkdir(exist_ok=True)
    (work / "data").mkdir(exist_ok=True)  # the gallery refuses a key anywhere under its folder
    gallery_key_file = work / "keys" / "gallery.key"
    gate_key_file = work / "keys" / "gate.key"
    for f in (gallery_key_file, gate_key_file, work / "data" / "gallery.db"):
        f.unlink(missing_ok=True)
    GalleryKey.generate().write(gallery_key_file)
    generate_key_file(str(gate_key_file))
    visitors = VISITORS if liveness else tuple(v for v in VISITORS if not v.attack)
    walkup = WalkUp(visitors, fps=fps)
    gallery_db = work / "data" / "gallery.db"
    with Gallery(gallery_db, GalleryKey.from_file(gallery_key_file), create=True) as gallery:
        _enrol(bundles, gallery, walkup.enrol_views(), print)

    source = "thermal"
    if liveness:  # the SDK's fitness contract decides whether the RGB model may decide
        from biogate.bundle import open_bundle

        fitness = open_bundle(bundles / "face_liveness").fitness("liveness")
        source = "both" if fitness.fit else "thermal"
        verdict = (
            "it decides together with the thermal skin check"
            if fitness.fit
            else "its Δ is logged, the thermal skin check decides (docs/security.md)"
        )
        print(f"  RGB liveness model (seed 004): {fitness.message()} -> {verdict}")
    print("3. gate controller firmware on a pseudo-terminal")
    key = load_key(str(gate_key_file))
    bb_roi, bb_c = ScriptedThermal.blackbody()
    config = parse_config(
        {
            "models": {
                "detector": str(bundles),
                "liveness": str(bundles / "face_liveness") if liveness else "",
                "embedder": str(bundles / "face_embed_dlib"),
            },
            "gallery": {"path": "data/gallery.db", "key_file": "keys/gallery.key"},
            "thermal": {"enabled": True, "blackbody_roi": bb_roi, "blackbody_c": bb_c, "max_age_ms": 500.0},
            "selection": {"every": 1, "keep_ratio": 0.5, "window_s": 1.0, "min_score": 20.0},
            "audit": {"path": "audit.jsonl"},
            "policy": {
                "open_cooldown_s": 5.0,
                "deny_cooldown_s": 2.0,
                "open_duration_ms": 1000,
                "require_liveness": liveness,
                "liveness_source": source,
            },
        },
        base_dir=work,
        name="demo config",
    )
    with GateSimulator(key, trace=True) as sim:
        print(f"  gate-sim on {sim.port}")
        with GateClient(sim.port, key, heartbeat_s=0.25) as gate:
            print(f"4. walk-up: {len(walkup.visitors)} visitors at {fps:g} fps")
            kiosk = build_kiosk(
                config,
                source=walkup,
                thermal_source=ScriptedThermal(walkup),
                gate=gate,
                on_decision=_print_decision,
            )
            with kiosk:
                kiosk.wait(timeout=120)
            stats = kiosk.stats()
            status = gate.status()
        relay_opens = sim.sim_status()["relay_opens"]
    verdicts = _judge(walkup, kiosk.sink.records)
    _latency_table(stats)
    print("\n5. verdicts")
    for visitor, actions, ok in verdicts:
        got = ", ".join(actions) or "no decision"
        print(f"  {'ok ' if ok else 'BAD'} {visitor.label:<26} expected {visitor.expect:<6} got {got}")
    opens = sum(1 for r in kiosk.sink.records if r.decision.action == "open")
    errors = stats["errors"]
    print(
        f"  relay opened {relay_opens}× for {opens} open decision(s); relay now "
        f"{'OPEN' if status.relay_open else 'closed'}; pipeline errors: {errors or 'none'}"
    )
    print(f"  audit log: {work / 'audit.jsonl'}")
    good = all(ok for _, _, ok in verdicts) and relay_opens == opens and not errors
    print("demo " + ("passed: every decision was the expected one" if good else "FAILED"))
    return 0 if good else 1
