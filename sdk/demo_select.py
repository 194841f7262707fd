"""The frame-selection demo: a generated walk-up clip whose sharpest frame is known.

The face scene of :mod:`biogate.sim.face` (a textured face over clutter, in focus) drifts
across a 640×480 frame while a focus sweep (:func:`biogate.sim.focus.focus_sweep`) blurs it; the
selector must keep the frames the generator knows are sharpest.  Nothing beyond the device
dependencies is needed.  Used by ``biogate demo --select`` and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .frame import Frame
from .select import FrameSelector, ScoredFrame
from .sim.face import render_face
from .sim.focus import defocus, focus_sweep

FPS = 30


@dataclass
class DemoClip:
    frames: list[Frame]
    sigmas: list[float]  # ground-truth Gaussian blur of each frame (0 = in focus)


def make_clip(seconds: float = 2.0, seed: int = 7) -> DemoClip:
    """A focus sweep: blur falls to 0 at a random moment, then rises again; small camera shake."""
    rng = np.random.default_rng(seed)
    photo = render_face(0, seed, max_blur=0.0)[0]
    n = int(seconds * FPS)
    focus_at = int(rng.integers(n // 4, 3 * n // 4))
    frames, sigmas = [], []
    for i in range(n):
        sigma = focus_sweep(i, focus_at)
        dx, dy = rng.normal(0, 2.0, size=2)
        shift = np.float32([[1, 0, -40 + i * 0.8 + dx], [0, 1, -20 + dy]])
        image = cv2.warpAffine(photo, shift, (640, 480), borderMode=cv2.BORDER_REFLECT)
        image = defocus(image, sigma)
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
