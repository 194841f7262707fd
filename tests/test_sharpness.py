"""The native sharpness kernels agree exactly with OpenCV and reject bad input cleanly."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from biogate import _native
from biogate.sharpness import METRICS, frame_sharpness, sharpness, simd_path

RNG = np.random.default_rng(1234)


def cv_laplacian_var(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def cv_tenengrad(gray: np.ndarray, threshold: float = 0.0) -> float:
    g2 = cv2.Sobel(gray, cv2.CV_64F, 1, 0) ** 2 + cv2.Sobel(gray, cv2.CV_64F, 0, 1) ** 2
    return float(np.where(g2 > threshold * threshold, g2, 0.0).mean())


def np_brenner(gray: np.ndarray) -> float:
    if gray.shape[1] < 3:
        return 0.0
    d = gray[:, 2:].astype(np.int64) - gray[:, :-2]
    return float((d * d).mean())


def assert_close(value: float, ref: float) -> None:
    assert value == pytest.approx(ref, rel=1e-12, abs=1e-12)


SHAPES = [(1, 1), (2, 2), (3, 3), (1, 7), (7, 1), (2, 9), (5, 3), (17, 31), (33, 65), (64, 200), (121, 333)]


@pytest.mark.parametrize("shape", SHAPES)
def test_random_images_match_opencv(shape):
    gray = RNG.integers(0, 256, shape, dtype=np.uint8)
    assert_close(_native.laplacian_var(gray), cv_laplacian_var(gray))
    assert_close(_native.tenengrad(gray), cv_tenengrad(gray))
    assert_close(_native.brenner(gray), np_brenner(gray))


@pytest.mark.parametrize("value", [0, 1, 128, 255])
def test_constant_images_score_zero(value):
    gray = np.full((37, 53), value, np.uint8)
    for metric in METRICS:
        assert sharpness(gray, metric) == 0.0


def test_extreme_contrast_does_not_overflow():
    # A 0/255 checkerboard drives every response to its maximum: the int16/int32 lanes must not wrap.
    board = (np.indices((1080, 4100)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert_close(_native.laplacian_var(board), cv_laplacian_var(board))
    assert_close(_native.tenengrad(board), cv_tenengrad(board))
    assert_close(_native.brenner(board), np_brenner(board))


def test_real_photographs_match_opencv():
    for image in (skdata.camera(), cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY), skdata.coins()):
        assert_close(_native.laplacian_var(image), cv_laplacian_var(image))
        assert_close(_native.tenengrad(image, threshold=40.0), cv_tenengrad(image, 40.0))


def test_row_stride_and_pixel_stride_views_are_read_in_place():
    big = RNG.integers(0, 256, (300, 500), dtype=np.uint8)
    for view in (big[10:200, 7:301], big[::2, :], big[:, ::3], big[5:, ::2][::3]):
        ref = np.ascontiguousarray(view)
        assert_close(_native.laplacian_var(view), cv_laplacian_var(ref))
        assert_close(_native.tenengrad(view), cv_tenengrad(ref))
        assert_close(_native.brenner(view), np_brenner(ref))


def test_roi_scores_the_crop_as_an_image():
    gray = skdata.camera()
    x, y, w, h = 101, 57, 130, 91
    crop = gray[y : y + h, x : x + w]
    assert_close(_native.laplacian_var(gray, roi=(x, y, w, h)), cv_laplacian_var(crop))
    assert_close(_native.tenengrad(gray, roi=(x, y, w, h)), cv_tenengrad(crop))
    assert_close(_native.brenner(gray, roi=(x, y, w, h)), np_brenner(crop))


@pytest.mark.parametrize("step", [2, 3, 4])
def test_decimation_equals_scoring_the_subsampled_image(step):
    gray = skdata.camera()
    roi = (13, 21, 200, 150)
    sub = np.ascontiguousarray(gray[21 : 21 + 150 : step, 13 : 13 + 200 : step])
    assert_close(_native.laplacian_var(gray, roi=roi, step=step), cv_laplacian_var(sub))
    assert_close(_native.tenengrad(gray, roi=roi, step=step), cv_tenengrad(sub))


def test_nv12_scores_its_y_plane():
    y_plane = skdata.camera()[:480, :512]
    nv12 = np.concatenate([y_plane, RNG.integers(0, 256, (240, 512), dtype=np.uint8)])
    for metric in METRICS:
        assert sharpness(nv12, metric, layout="nv12") == sharpness(y_plane, metric)
    assert sharpness(nv12, roi=(10, 20, 64, 48), layout="nv12") == sharpness(y_plane, roi=(10, 20, 64, 48))


def test_yuyv_scores_its_y_samples_both_shapes():
    y_plane = skdata.camera()[:64, :96]
    packed = np.empty((64, 96, 2), np.uint8)
    packed[..., 0] = y_plane
    packed[..., 1] = RNG.integers(0, 256, (64, 96), dtype=np.uint8)
    flat = packed.reshape(64, 192)
    for metric in METRICS:
        ref = sharpness(y_plane, metric)
        assert sharpness(packed, metric, layout="yuyv") == ref
        assert sharpness(flat, metric, layout="yuyv") == ref


def test_opencv_nv12_conversion_agrees_with_frame_luma():
    from biogate import Frame

    bgr = skdata.astronaut()[:, :, ::-1].copy()
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)  # planar; build NV12 from it
    h, w = bgr.shape[:2]
    u = yuv[h : h + h // 4].reshape(h // 2, w // 2)
    v = yuv[h + h // 4 :].reshape(h // 2, w // 2)
    nv12 = np.concatenate([yuv[:h], np.stack([u, v], axis=-1).reshape(h // 2, w)])
    frame = Frame(nv12, "nv12", t_capture=0)
    assert frame_sharpness(frame) == sharpness(yuv[:h])


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.zeros((10, 10), np.float32), {}, "uint8"),
        (np.zeros((10, 10), np.uint16), {}, "uint8"),
        (np.zeros((10,), np.uint8), {}, "2-D"),
        (np.zeros((4, 4, 3), np.uint8), {}, "2-D"),
        (np.zeros((0, 10), np.uint8), {}, "empty"),
        (np.zeros((10, 10), np.uint8)[::-1], {}, "positive"),
        (np.zeros((10, 10), np.uint8), {"roi": (5, 5, 6, 1)}, "outside"),
        (np.zeros((10, 10), np.uint8), {"roi": (-1, 0, 2, 2)}, "outside"),
        (np.zeros((10, 10), np.uint8), {"roi": (0, 0, 0, 2)}, "empty"),
        (np.zeros((10, 10), np.uint8), {"roi": (0, 0, 2)}, "roi"),
        (np.zeros((10, 10), np.uint8), {"step": 0}, "step"),
        (np.zeros((10, 10), np.uint8), {"layout": "rgb"}, "layout"),
        (np.zeros((10, 10), np.uint8), {"layout": "nv12"}, "nv12"),
        (np.zeros((9, 11), np.uint8), {"layout": "nv12"}, "even"),
        (np.zeros((10, 10), np.uint8), {"layout": "yuyv"}, "yuyv"),
    ],
)
def test_bad_inputs_raise_clear_errors(image, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        _native.laplacian_var(image, **kwargs)


def test_threshold_only_for_tenengrad_and_unknown_metric():
    gray = np.zeros((8, 8), np.uint8)
    with pytest.raises(TypeError, match="tenengrad"):
        _native.laplacian_var(gray, threshold=3.0)
    with pytest.raises(ValueError, match="unknown sharpness metric"):
        sharpness(gray, "sobel")


def test_non_buffer_input_is_a_type_error():
    with pytest.raises(TypeError):
        _native.laplacian_var([[1, 2], [3, 4]])


def test_readonly_and_bytes_buffers_are_accepted():
    gray = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    gray.flags.writeable = False
    assert_close(_native.laplacian_var(gray), cv_laplacian_var(gray))
    flat = memoryview(gray.tobytes()).cast("B", (20, 30))
    assert_close(_native.laplacian_var(flat), cv_laplacian_var(gray))


def test_kernels_run_concurrently_from_threads():
    frames = [RNG.integers(0, 256, (240, 320), dtype=np.uint8) for _ in range(8)]
    expected = [cv_laplacian_var(f) for f in frames]
    results = [None] * len(frames)
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        for i in range(k, len(frames), 4):
            results[i] = _native.laplacian_var(frames[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, ref in zip(results, expected):
        assert_close(got, ref)


def test_simd_path_is_reported():
    assert simd_path() in {"avx2", "sse2", "neon", "generic"}
