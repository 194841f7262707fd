"""The frame-selection demo: a generated walk-up clip whose sharpest frame is known.

A real photograph (scikit-image's ``astronaut``) drifts across a 640×480 frame while
a focus sweep blurs it with OpenCV; the selector must keep the frames the generator
knows are sharpest.  Used by ``biogate demo --select`` and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .frame import Frame
from .select import FrameSelector, ScoredFrame

FPS = 30


@dataclass
class DemoClip:
    frames: list[Frame]
    sigmas: list[float]  # ground-truth Gaussian blur of each frame (0 = in focus)


def _face_photo() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def make_clip(seconds: float = 2.0, seed: int = 7) -> DemoClip:
    """A focus sweep: blur falls to 0 at a random moment, then rises again; small camera shake."""
    rng = np.random.default_rng(seed)
    photo = _face_photo()
    n = int(seconds * FPS)
    focus_at = int(rng.integers(n // 4, 3 * n // 4))
    frames, sigmas = [], []
    for i in range(n):
        sigma = round(abs(i - focus_at) * 0.35, 2)
        dx, dy = rng.normal(0, 2.0, size=2)
        shift = np.float32([[1, 0, -40 + i * 0.8 + dx], [0, 1, -20 + dy]])
        image = cv2.warpAffine(photo, shift, (640, 480), borderMode=cv2.BORDER_REFLECT)
        if sigma > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        frames.append(
            Frame(image, "bgr8", t_capture=i * 1_000_000_000 // FPS, seq=i, source="synthetic://demo")
        )
        sigmas.append(sigma)
    return DemoClip(frames, sigmas)


def run_demo(every: int = 3, top: int = 3, metric: str = "laplacian") -> int:
    """Print every sampled frame with its blur and score, the kept ones, and check them."""
    clip = make_clip()
    selector = FrameSelector(metric, every=every, window_s=None, top_k=top)
    kept: list[ScoredFrame] = selector.select(clip.frames)
    kept_idx = {s.index for s in kept}
    print(
        f"frame selection demo: {len(clip.frames)} frames at {FPS} fps, sampling every {every}, "
        f"metric {metric}, keeping top {top}"
    )
    print(f"{'frame':>5} {'t (ms)':>8} {'true blur σ':>11} {'score':>10}  kept")
    for s in selector.scored():
        mark = "  <-- kept" if s.index in kept_idx else ""
        t_ms = s.frame.t_capture / 1e6
        print(f"{s.index:>5} {t_ms:>8.1f} {clip.sigmas[s.index]:>11.2f} {s.score:>10.1f}{mark}")
    sampled = sorted(selector.scored(), key=lambda s: clip.sigmas[s.index])
    expected = {s.index for s in sampled[:top]}
    ok = kept_idx == expected
    print(
        f"kept frames {sorted(kept_idx)} are the {top} least blurred sampled frames: {'yes' if ok else 'NO'}"
    )
    return 0 if ok else 1
