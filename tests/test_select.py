"""FrameSelector/TrackSelector on clips whose sharpest frame is known (blur made with OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from biogate import ConfigError, Frame, FrameSelector
from biogate.select import TrackSelector

FPS = 30
PERIOD_NS = 1_000_000_000 // FPS
BASE = skdata.camera()[:240, :320].copy()


def blurred(sigma: float, image: np.ndarray = BASE) -> np.ndarray:
    return image.copy() if sigma == 0 else cv2.GaussianBlur(image, (0, 0), sigma)


def clip(sigmas, fmt="gray8"):
    frames = []
    for i, sigma in enumerate(sigmas):
        image = blurred(sigma)
        if fmt == "bgr8":
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        frames.append(Frame(image, fmt, t_capture=i * PERIOD_NS, seq=i, source="test://clip"))
    return frames


def test_sharpest_sampled_frame_is_selected():
    # Frame 9 is in focus; every=3 samples 0, 3, 6, 9, 12.
    sigmas = [4, 4, 4, 3, 3, 3, 2, 2, 2, 0, 1, 1, 2.5, 3, 3]
    best = FrameSelector(every=3, top_k=1).select(clip(sigmas))
    assert [s.index for s in best] == [9]
    assert best[0].frame.seq == 9


def test_interval_skips_unsampled_frames_even_if_sharper():
    sigmas = [3, 0, 3, 3, 2, 3]  # the sharp frame 1 is not sampled with every=3
    best = FrameSelector(every=3).select(clip(sigmas))
    assert best[0].index == 3


@pytest.mark.parametrize("metric", ["laplacian", "brenner", "tenengrad"])
def test_every_metric_orders_blur_levels(metric):
    sigmas = [3.0, 0.0, 2.0, 1.0, 4.0]
    ranked = FrameSelector(metric=metric, every=1, top_k=5).select(clip(sigmas))
    assert [s.index for s in ranked] == [1, 3, 2, 0, 4]


def test_colour_frames_are_scored_on_luma():
    best = FrameSelector(every=1).select(clip([2, 0, 2], fmt="bgr8"))
    assert best[0].index == 1


def test_window_forgets_frames_older_than_window():
    selector = FrameSelector(every=1, window_s=0.1)  # 3 frames at 30 fps
    for frame in clip([0, 3, 3, 3, 3, 2]):
        selector.push(frame)
    # Frame 5 is captured at 166.7 ms: frames 0 and 1 (> 100 ms older) are gone,
    # frame 2 (exactly 100 ms older) stays.
    assert [s.index for s in selector.scored()] == [2, 3, 4, 5]
    assert selector.best()[0].index == 5


def test_top_k_sorted_and_min_score():
    selector = FrameSelector(every=1, top_k=2, window_s=None)
    scores = [selector.push(f).score for f in clip([1, 0, 2])]
    assert [s.index for s in selector.best()] == [1, 0]
    selector.min_score = max(scores) + 1
    assert selector.best() == []


def test_roi_scores_only_the_face_box():
    sharp_left = BASE.copy()
    sharp_left[:, 160:] = blurred(4)[:, 160:]
    sharp_right = BASE.copy()
    sharp_right[:, :160] = blurred(4)[:, :160]
    frames = [Frame(img, "gray8", t_capture=i * PERIOD_NS) for i, img in enumerate([sharp_left, sharp_right])]
    right_box = (170, 20, 140, 200)
    assert FrameSelector(every=1, roi=right_box).select(frames)[0].index == 1
    assert FrameSelector(every=1, roi=(10, 20, 140, 200)).select(frames)[0].index == 0


def test_track_selector_keeps_sharpest_face_per_track():
    tracks = TrackSelector(ttl_s=1.0)
    frames = clip([2, 0, 2, 2])
    boxes = {"a": (0, 0, 150, 200), "b": (160, 0, 150, 200)}
    # Track a is sharpest on frame 1; track b's box is blurred there by pasting a blurred half.
    for frame in frames:
        image = frame.image.copy()
        if frame.seq == 1:
            image[:, 160:] = blurred(5)[:, 160:]
        frame = Frame(image, "gray8", frame.t_capture, frame.seq)
        for track_id, box in boxes.items():
            tracks.push(track_id, frame, box)
    assert tracks.best("a").frame.seq == 1
    assert tracks.best("b").frame.seq != 1
    assert tracks.best("missing") is None


def test_track_selector_drops_stale_tracks():
    tracks = TrackSelector(ttl_s=0.05)
    frames = clip([0, 0, 0, 0])
    tracks.push("old", frames[0], (0, 0, 50, 50))
    tracks.push("new", frames[3], (0, 0, 50, 50))
    assert tracks.tracks() == ["new"]


@pytest.mark.parametrize("kwargs", [{"metric": "fft"}, {"every": 0}, {"top_k": 0}, {"window_s": -1.0}])
def test_bad_options_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        FrameSelector(**kwargs)
    with pytest.raises(ConfigError):
        TrackSelector(**{k: v for k, v in kwargs.items()})
