"""mlx90640:// through faithful fakes of adafruit_mlx90640 and adafruit_extended_bus."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import biogate
from biogate.capture.mlx90640 import chess_residual
from biogate.errors import BackendUnavailable, ConfigError, SourceError

from .fakes import make_mlx_modules


def _install(monkeypatch, script, stay_broken=0, down_after_oserror=0):
    modules = make_mlx_modules(script, stay_broken, down_after_oserror)
    state = modules.pop("_state")
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return state


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "adafruit_mlx90640", None)
    with pytest.raises(BackendUnavailable, match=r"adafruit_mlx90640.*biogate\[mlx90640\]"):
        biogate.open_source("mlx90640://i2c-1")


def test_frames_are_celsius_with_blackbody_and_meta(monkeypatch):
    _install(monkeypatch, [])
    uri = "mlx90640://i2c-1?rate=8&blackbody=28,20,4,4&blackbody_c=35.5&blackbody_smoothing=1"
    with biogate.open_source(uri, latest=False) as src:
        frame = src.read(timeout=5)
    assert frame.format == "celsius32" and frame.image.shape == (24, 32)
    assert frame.meta["serial"] == "1234-5678-9abc" and frame.meta["bus"] == 1
    assert abs(float(frame.image[-4:, -4:].mean()) - 35.5) < 1e-4  # offset-corrected to the set point
    assert frame.meta["measurable"] and not frame.meta["chess_artifact"]


def test_errors_stale_invalid_and_subpage_detection(monkeypatch):
    state = _install(
        monkeypatch, ["ok", "valueerror", "ok", "stale", "stale", "nan", "subpage", "chess", "ok"]
    )
    with biogate.open_source("mlx90640://1", latest=False) as src:
        frames = [src.read(timeout=5) for _ in range(5)]
        stats = src.stats()
    assert stats["frame_errors"] == 1 and stats["stale_frames"] == 2 and stats["invalid_frames"] == 1
    images = [f.image for f in frames]
    assert all(not np.array_equal(a, b) for a, b in zip(images, images[1:]))  # never the same data twice
    subpage, chess = frames[2], frames[3]
    assert subpage.meta["stale_subpage"] and not subpage.meta["measurable"]
    assert (
        chess.meta["chess_artifact"] and chess.meta["chess_residual_c"] > 1.0 and not chess.meta["measurable"]
    )
    assert frames[4].meta["measurable"] and state["calls"] >= 9


def test_oserror_reinitialises_bus_and_sensor(monkeypatch):
    # the bus stays down for two re-init attempts after the error
    state = _install(monkeypatch, ["ok", "oserror"], down_after_oserror=2)
    with biogate.open_source("mlx90640://i2c-1?backoff_initial_s=0.001", latest=False) as src:
        first = src.read(timeout=5)
        second = src.read(timeout=5)
        stats = src.stats()
    assert "outage" not in first.meta
    outage = second.meta["outage"]
    assert outage["attempts"] == 3 and "Remote I/O error" in outage["error"]
    assert stats["reinits"] == 1 and stats["reconnects"] == 1 and state["buses"] == 4


def test_bad_bus_and_absent_sensor(monkeypatch):
    _install(monkeypatch, [], stay_broken=1)
    with pytest.raises(ConfigError, match="i2c-1"):
        biogate.open_source("mlx90640://bus-one")
    with pytest.raises(SourceError, match="no MLX90640 on I2C bus 3"):
        biogate.open_source("mlx90640://i2c-3")


def test_chess_residual_is_zero_for_smooth_scenes():
    yy, xx = np.mgrid[0:24, 0:32].astype(np.float32)
    smooth = 22 + 0.3 * xx + 0.1 * yy
    assert chess_residual(smooth) < 1e-5
    board = smooth + ((np.add.outer(np.arange(24), np.arange(32)) % 2) * 2 - 1) * 0.8
    assert abs(chess_residual(board) - 0.8) < 1e-4
