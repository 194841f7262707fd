"""A face detector for every orientation: trained proposals, then MTCNN's verifiers turned upright.

:class:`AnyAngleFaceDetector` is a cascade (see ``docs/face.md`` for why it was chosen):

1. **Proposals** — the project's tiny fully convolutional net (bundle ``face_detect_any``) runs on an
   image pyramid (factor :data:`PYRAMID_FACTOR`, from ``min_face``), large levels cut into
   overlapping tiles; every cell predicts a face score, centre, size *and orientation* (cos, sin).
   Duplicates (across tiles, cells and levels) are merged by NMS.
2. **Verification turned upright** — each proposal is cut out *rotated by its predicted angle* and
   by the three other quarter turns, at its own size and 1.4x it (the proposal net's angle and
   size are coarse at 14 px), and MTCNN's R-Net (24 px) judges all of them in one batch; the best
   hypothesis of each proposal goes on to O-Net (48 px), which regresses its box and gives five
   landmarks; the eye/mouth line of the landmarks refines the angle and O-Net runs once more at
   the refined angle.  Faces whose landmarks disagree with their angle, or whose angle the image's
   other confident faces outvote (:func:`consensus_factors`), lose score.
3. Everything is mapped back to input-image pixels: the ``quad`` is O-Net's face box (in the face's
   own frame) turned by the face's angle, starting at the upright face's top-left; ``box`` is the
   axis-aligned box around it (for an upright face: exactly MTCNN's box).

``rotate="upright"`` ignores the predicted angles (every face verified at 0°) — as fast, for
cameras that are known to be level; ``rotate="any"`` (default) finds faces at any angle.
Crops for a face of side S come from the pyramid level where S is closest above the crop size,
so nothing is aliased.  Every net is an infer callable (an Engine on the device, PyTorch in the
exporters), so the bundle's metrics are measured through this very code.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..frame import to_rgb8
from .detect_ops import nms
from .face_any_geometry import (
    CHANNELS,
    PYRAMID_FACTOR,
    STRIDE,
    TILE,
    UNIT,
    Pyramid,
    consensus_factors,
    decode_proposals,
    face_quad,
    level_scales,
    rotation,
    square_boxes,
    tiles,
    turn_nms,
)
from .face_detect import FaceDetection, FaceDetector, Infer, _first, _normalise

ROTATIONS = ("upright", "any")
#: Proposal, R-Net and O-Net score thresholds when none are given (the bundle's are used when loaded).
DEFAULT_THRESHOLDS = (0.2, 0.4, 0.5)


class AnyAngleFaceDetector(FaceDetector):
    """Faces at any orientation: proposals + upright-turned MTCNN verification (module docstring).

    Args:
        proposer: infer callable, input ``image`` (N, 3, H, W) RGB/255, output ``maps`` (N, 6, H/4, W/4).
        rnet, onet: MTCNN's R-Net and O-Net infer callables (``prob``, ``reg``, ``landmarks``).
        orienter: the quarter-turn classifier (bundle ``face_orient``; input R-Net's 24-px crop,
            output ``prob`` (N, 4)); ``None``: R-Net's scores alone pick each proposal's turn.
        orient_weight: exponent of the classifier's turn probability in the score that ranks a
            proposal's hypotheses (R-Net probability x turn probability ** weight).
        rotate: ``any`` (faces at every angle) or ``upright`` (verify every face at 0°).
        min_face: smallest face side to look for, in input pixels.
        thresholds: proposal, R-Net and O-Net score thresholds (defaults: the bundle's).
        max_proposals: best proposals kept for verification per megapixel of input (at least this
            many): a 6 MP frame of many faces has as many proposals per face as a 1 MP one.
        hypotheses: angle offsets (degrees) at which R-Net also judges each proposal (``any`` only).
        sizes: factors of each proposal's side at which R-Net judges it too (``size_turns`` turns).
        size_gate: the further ``sizes`` and ``tilts`` are tried only for proposals whose best turn
            at the first size scored at least this (most background proposals score far less).
        size_turns: best-ranked turns of a proposal that are judged at the further ``sizes``.
        tilts: angle offsets (degrees) at which the best-ranked turn is judged too (``any`` only):
            the proposal net's angle is often 20-60 degrees off.
        turns: best-scoring hypotheses per proposal that go on to O-Net.
        consensus: penalise faces far from the orientation the image's other faces agree on
            (:func:`consensus_factors`; ``any`` only).
        final_threshold: drop faces whose score the landmark and consensus penalties pushed
            under O-Net's threshold.
        batch: largest batch sent to R-Net/O-Net.
    """

    name = "face_any"

    def __init__(
        self,
        proposer: Infer,
        rnet: Infer,
        onet: Infer,
        orienter: Infer | None = None,
        rotate: str = "any",
        min_face: float = 40.0,
        thresholds: Sequence[float] | None = None,
        max_proposals: int = 400,
        hypotheses: Sequence[float] = (90.0, 180.0, 270.0),
        sizes: Sequence[float] = (1.0, 1.4),
        size_gate: float = 0.1,
        turns: int = 1,
        consensus: bool = True,
        final_threshold: bool = True,
        batch: int = 128,
        orient_weight: float = 1.0,
        tilts: Sequence[float] = (-30.0, 30.0),
        size_turns: int = 2,
    ) -> None:
        if rotate not in ROTATIONS:
            raise ConfigError(f"unknown rotate {rotate!r}; valid: {', '.join(ROTATIONS)}")
        thr = tuple(float(t) for t in (thresholds if thresholds is not None else DEFAULT_THRESHOLDS))
        if len(thr) != 3:
            raise ConfigError("AnyAngleFaceDetector needs 3 thresholds (proposal, rnet, onet)")
        self.proposer, self.rnet, self.onet, self.orienter = proposer, rnet, onet, orienter
        self.orient_weight = float(orient_weight)
        self.rotate = rotate
        self.min_face = float(min_face)
        level_scales(100, 100, self.min_face)  # validates min_face
        self.thresholds = thr
        self.max_proposals = int(max_proposals)
        self.hypotheses = tuple(float(a) for a in hypotheses)
        self.sizes = tuple(float(f) for f in sizes)
        self.tilts = tuple(float(a) for a in tilts)
        self.size_turns = int(size_turns)
        self.size_gate = float(size_gate)
        self.turns = int(turns)
        self.consensus = bool(consensus)
        self.final_threshold = bool(final_threshold)
        self.batch = int(batch)
        self.last_timing: dict[str, float] = {}

    MODEL_OPTIONS = (
        "rotate",
        "min_face",
        "thresholds",
        "max_proposals",
        "hypotheses",
        "sizes",
        "size_gate",
        "turns",
        "consensus",
        "final_threshold",
        "batch",
        "orient_weight",
        "tilts",
        "size_turns",
    )
    BUNDLES = ("face_detect_any", "mtcnn_rnet", "mtcnn_onet", "face_orient")

    @classmethod
    def from_bundles(
        cls, folder: str | Path, *, require_fit: bool = True, trusted_keys: Any = None, **options: Any
    ) -> AnyAngleFaceDetector:
        """Load ``face_detect_any``, ``mtcnn_rnet``, ``mtcnn_onet`` and ``face_orient`` from ``folder``.

        Each goes through :func:`biogate.models.base.load_bundle` (signature, hashes, fitness as a
        ``detector``); thresholds are the bundles' (``proposal``, and R-Net/O-Net's own picks in
        ``face_detect_any``) unless given.  ``MODEL_OPTIONS`` go to the constructor, the rest to
        :func:`biogate.engine.load`.
        """
        model_options, engine_options = cls.split_options(options)
        loaded = [
            cls.load(Path(folder) / n, require_fit=require_fit, trusted_keys=trusted_keys, **engine_options)
            for n in cls.BUNDLES
        ]
        given = loaded[0].bundle.manifest.get("thresholds") or {}
        model_options.setdefault("thresholds", tuple(float(given[k]) for k in ("proposal", "rnet", "onet")))
        proposer, rnet, onet, orienter = (item.engine for item in loaded)
        model = cls(proposer, rnet, onet, orienter=orienter, **model_options)
        model.attach(loaded)
        return model

    @classmethod
    def from_bundle(cls, bundle: str | Path, **options: Any) -> AnyAngleFaceDetector:
        """The cascade is three bundles: ``bundle`` is the folder that holds them (:meth:`from_bundles`)."""
        return cls.from_bundles(bundle, **options)

    # -- stage 1 -----------------------------------------------------------------------
    def propose(self, pyramid: Pyramid) -> np.ndarray:
        """Rows ``cx, cy, side, angle, score`` of the merged proposals, best first."""
        h, w = pyramid.levels[1.0].shape[:2]
        found = []
        for scale in level_scales(h, w, self.min_face):
            level = pyramid.at(scale)
            lh, lw = level.shape[:2]
            for y, x in tiles(lh, lw):
                patch = level[y : y + TILE, x : x + TILE]
                ph, pw = -(-patch.shape[0] // STRIDE) * STRIDE, -(-patch.shape[1] // STRIDE) * STRIDE
                inp = np.zeros((ph, pw, 3), np.float32)
                inp[: patch.shape[0], : patch.shape[1]] = patch * np.float32(1 / 255.0)
                out = _first(self.proposer({"image": inp.transpose(2, 0, 1)[None].copy()}), "maps")[0]
                rows = decode_proposals(out, scale, self.thresholds[0], (y, x))
                if len(rows):
                    found.append(rows[nms(square_boxes(rows), rows[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5), np.float32)
        rows = np.concatenate(found)
        rows = rows[nms(square_boxes(rows), rows[:, 4], 0.5)]
        return rows[: round(self.max_proposals * max(1.0, h * w / 1e6))]

    # -- stages 2 and 3 ----------------------------------------------------------------
    def _verify(self, pyramid: Pyramid, rows: np.ndarray, net: Infer, size: int) -> dict[str, np.ndarray]:
        return self._run(net, self._crops(pyramid, rows, size))

    @staticmethod
    def _crops(pyramid: Pyramid, rows: np.ndarray, size: int) -> np.ndarray:
        return np.stack([pyramid.crop(r[0], r[1], r[2], r[3], size) for r in rows])

    def _run(self, net: Infer, crops: np.ndarray) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {}
        for i in range(0, len(crops), self.batch):
            for k, v in net({"image": _normalise(crops[i : i + self.batch])}).items():
                parts.setdefault(k, []).append(np.asarray(v))
        return {k: np.concatenate(v) for k, v in parts.items()}

    @staticmethod
    def _regress(rows: np.ndarray, reg: np.ndarray) -> np.ndarray:
        """MTCNN's edge regression in each crop's own (turned) frame.

        Returns rows ``cx, cy, side, angle, score, w, h``: the regressed box's centre, its square
        side (the next crop) and its own width and height in the face's frame.
        """
        out = np.zeros((len(rows), 7), np.float32)
        out[:, :5] = rows[:, :5]
        for i, (r, d) in enumerate(zip(rows, reg)):
            side = r[2]
            x0, y0, x1, y1 = -0.5 + d[0], -0.5 + d[1], 0.5 + d[2], 0.5 + d[3]
            shift = rotation(r[3]) @ np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0]) * side
            out[i, 0], out[i, 1] = r[0] + shift[0], r[1] + shift[1]
            out[i, 2] = max(x1 - x0, y1 - y0) * side
            out[i, 5], out[i, 6] = (x1 - x0) * side, (y1 - y0) * side
        return out

    def _stage(self, pyramid: Pyramid, rows: np.ndarray, net: Infer, size: int, thr: float):
        """Verify ``rows`` with ``net``: (regressed rows, the crops' rows with scores, landmarks)."""
        return self._keep(rows, self._verify(pyramid, rows, net, size), thr)

    def _keep(self, rows: np.ndarray, out: dict[str, np.ndarray], thr: float):
        prob = _first(out, "prob")[:, 1]
        keep = prob >= thr
        rows = rows[keep].copy()
        rows[:, 4] = prob[keep]
        marks = out["landmarks"][keep] if "landmarks" in out else None
        return self._regress(rows, _first(out, "reg")[keep]), rows, marks

    def _rnet(self, pyramid: Pyramid, rows: np.ndarray) -> np.ndarray:
        """R-Net judges every proposal at its own angle *and* at each of ``hypotheses`` (offsets,
        by default the other three quarter turns), batched.  For the proposals whose best turn
        scored at least ``size_gate``, it then judges their ``size_turns`` best turns at each
        further factor of ``sizes``, and their best turn tilted by each of ``tilts``.  Each
        proposal keeps its ``turns`` best hypotheses that pass, ranked by R-Net's probability
        times, with an ``orienter``, its probability of the hypothesis's quarter turn (R-Net alone
        often prefers a wrong turn).  The proposal net's angle and size are coarse at 14 px (20-60
        degrees off, half the face); searching around them makes the cascade independent of it."""
        offsets = np.asarray((0.0, *self.hypotheses) if self.rotate == "any" else (0.0,), np.float32)
        sizes = self.sizes or (1.0,)
        if len(offsets) == 1 and len(sizes) == 1:
            self.last_timing["rnet_crops"] = float(len(rows))
            passed, _, _ = self._stage(pyramid, rows, self.rnet, 24, self.thresholds[1])
            return passed
        parts: list[tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]] = []

        def judge(owners: np.ndarray, size: float, turned: np.ndarray) -> np.ndarray:
            """R-Net on each of ``owners`` at ``size`` and each angle offset of its row of ``turned``."""
            cand = np.repeat(rows[owners], turned.shape[1], axis=0)
            cand[:, 3] += turned.ravel()
            cand[:, 2] *= size
            crops = self._crops(pyramid, cand, 24)
            owner = np.repeat(owners, turned.shape[1])
            parts.append((cand, self._run(self.rnet, crops), owner, turned.ravel()))
            return crops

        every = np.arange(len(rows))
        first = judge(every, sizes[0], np.tile(offsets, (len(rows), 1)))
        first_prob = _first(parts[0][1], "prob")[:, 1].reshape(len(rows), len(offsets))
        best = first_prob.max(1)
        gated = np.nonzero(best >= self.size_gate)[0]
        turn_prob = None
        asked = np.nonzero(best >= min(self.size_gate, self.thresholds[1]))[0]
        if self.orienter is not None and len(offsets) > 1 and len(asked):
            # Only proposals that R-Net has not ruled out at every turn need one (the classifier
            # costs ~8 R-Nets a crop); the offset-0 crops are the proposals at their own angle.
            turn_prob = np.ones((len(rows), 4), np.float32)
            turn_prob[asked] = _first(self._run(self.orienter, first[asked * len(offsets)]), "prob")

        def rank_score(prob: np.ndarray, owner: np.ndarray, offset: np.ndarray) -> np.ndarray:
            if turn_prob is None:
                return prob
            turn = np.round(offset / 90.0).astype(int) % 4
            return prob * turn_prob[owner, turn] ** self.orient_weight

        if len(gated):
            score = rank_score(first_prob[gated], gated[:, None], offsets[None])
            by_rank = offsets[np.argsort(-score, axis=1, kind="stable")]
            for size in sizes[1:]:
                judge(gated, size, by_rank[:, : max(1, self.size_turns)])
            if self.tilts and len(offsets) > 1:
                judge(gated, sizes[0], by_rank[:, :1] + np.asarray(self.tilts, np.float32)[None])
        cand = np.concatenate([p[0] for p in parts])
        out = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
        owner = np.concatenate([p[2] for p in parts])
        prob = _first(out, "prob")[:, 1]
        ranked = rank_score(prob, owner, np.concatenate([p[3] for p in parts]))
        order = np.lexsort((-ranked, owner))  # by proposal, best first (stable on ties)
        by_owner = owner[order]
        rank = np.arange(len(order)) - np.searchsorted(by_owner, by_owner)
        mask = np.zeros(len(cand), bool)
        mask[order[rank < max(1, self.turns)]] = True
        mask &= prob >= self.thresholds[1]
        self.last_timing["rnet_crops"] = float(len(cand))
        passed, _, _ = self._keep(cand[mask], {k: v[mask] for k, v in out.items()}, self.thresholds[1])
        return passed

    def _refine(self, pyramid: Pyramid, rows: np.ndarray, at: np.ndarray, marks: np.ndarray):
        """Turn each face to the angle of its landmarks' eye/mouth lines and let O-Net look again;
        the second look is kept when it is about as sure (it is better centred and aligned)."""
        angle = self._angle_from_landmarks(at, self._landmarks(at, marks))
        delta = (angle - at[:, 3] + 180.0) % 360.0 - 180.0
        cand = rows.copy()
        cand[:, 3] = at[:, 3] + delta
        again, at2, marks2 = self._stage(pyramid, cand, self.onet, 48, 0.0)
        better = (np.abs(delta) <= 60.0) & (at2[:, 4] >= np.maximum(self.thresholds[2], 0.9 * at[:, 4]))
        rows, at, marks = rows.copy(), at.copy(), marks.copy()
        rows[better], at[better], marks[better] = again[better], at2[better], marks2[better]
        return rows, at, marks

    @staticmethod
    def _landmarks(rows: np.ndarray, marks: np.ndarray) -> np.ndarray:
        """O-Net's crop-relative points (10,) → (N, 5, 2) image pixels."""
        pts = np.stack([marks[:, :5], marks[:, 5:]], 2) - 0.5  # crop frame, centre origin, unit side
        out = np.zeros_like(pts)
        for i, r in enumerate(rows):
            out[i] = pts[i] @ rotation(r[3]).T * r[2] + r[:2]
        return out

    @staticmethod
    def _angle_from_landmarks(rows: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Face angles from the eye and mouth lines (MTCNN order: eyes, nose, mouth corners)."""
        eyes = points[:, 1] - points[:, 0]
        mouth = points[:, 4] - points[:, 3]
        v = eyes / np.maximum(np.linalg.norm(eyes, axis=1, keepdims=True), 1e-6)
        v = v + mouth / np.maximum(np.linalg.norm(mouth, axis=1, keepdims=True), 1e-6)
        return np.degrees(np.arctan2(-v[:, 1], v[:, 0])).astype(np.float32)

    def detect(self, image: Any, order: str = "RGB") -> list[FaceDetection]:
        img = to_rgb8(image, order)
        pyramid = Pyramid(img)
        t0 = time.perf_counter()
        rows = self.propose(pyramid)
        if self.rotate == "upright":
            rows[:, 3] = 0.0
        t1 = time.perf_counter()
        timing = {"proposals": float(len(rows)), "propose_ms": (t1 - t0) * 1e3}
        timing.update(rnet_crops=0.0, onet_crops=0.0)  # work counts, set by the stages that run
        self.last_timing = timing
        faces: list[FaceDetection] = []
        if len(rows):
            rows = self._rnet(pyramid, rows)
        if len(rows):
            rows = rows[turn_nms(rows, 0.6)]
            timing["onet_crops"] = float(len(rows))
            rows, at, marks = self._stage(pyramid, rows, self.onet, 48, self.thresholds[2])
        t2 = time.perf_counter()
        if len(rows):
            if self.rotate == "any":
                timing["onet_crops"] += len(rows)  # the second look at the refined angle
                rows, at, marks = self._refine(pyramid, rows, at, marks)
            points = self._landmarks(at, marks)
            if self.rotate == "any":
                # A face judged at a wrong quarter turn has landmarks that disagree with its angle:
                # the score falls with the disagreement, so that turn loses to the right one.
                delta = self._angle_from_landmarks(at, points) - rows[:, 3]
                rows[:, 4] *= np.clip(np.cos(np.radians(delta)), 0.0, 1.0)
            # Turns of one proposal land on one face: merged on overlap with the smaller square.
            order_ = nms(square_boxes(rows), rows[:, 4], 0.5, mode="min")
            if self.rotate == "any" and self.consensus:
                rows[order_, 4] *= consensus_factors(rows[order_, 3], rows[order_, 4])
                order_ = order_[np.argsort(-rows[order_, 4], kind="stable")]
            if self.final_threshold:  # what the penalties pushed under O-Net's threshold goes
                order_ = order_[rows[order_, 4] >= self.thresholds[2]]
            for i in order_:
                quad = face_quad(rows[i, 0], rows[i, 1], rows[i, 5], rows[i, 3], rows[i, 6])
                faces.append(
                    FaceDetection(
                        box=np.concatenate([quad.min(0), quad.max(0)]).astype(np.float32),
                        quad=quad,
                        score=float(rows[i, 4]),
                        landmarks=points[i].astype(np.float32),
                        landmark_scheme="mtcnn5",
                        # one convention for every face: counter-clockwise degrees in [-180, 180)
                        extra={"angle": float((rows[i, 3] + 180.0) % 360.0 - 180.0)},
                    )
                )
        timing["verify_ms"] = (time.perf_counter() - t1) * 1e3
        timing["refine_ms"] = (time.perf_counter() - t2) * 1e3
        self.last_timing = timing
        return faces


__all__ = [
    "CHANNELS",
    "PYRAMID_FACTOR",
    "ROTATIONS",
    "STRIDE",
    "TILE",
    "UNIT",
    "AnyAngleFaceDetector",
    "decode_proposals",
    "face_quad",
    "level_scales",
    "tiles",
]
