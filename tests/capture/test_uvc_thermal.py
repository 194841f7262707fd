"""uvc-thermal:// through a faithful fake of OpenCV's Y16 capture (no PureThermal board here)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from biogate.capture.registry import open_with
from biogate.capture.uvc_thermal import as_y16, parse_telemetry_row_a, split_telemetry
from biogate.errors import SourceError
from biogate.sim.thermal import render_thermal

from .fakes import FakeVideoCapture


def telemetry_rows(ffc_state: int, frame_counter: int) -> np.ndarray:
    """Two 160-word footer rows holding Lepton telemetry row A (then B/C, zeros here)."""
    words = np.zeros(320, np.uint16)
    words[0] = 14  # revision
    status = (ffc_state & 0x3) << 4
    words[3], words[4] = status & 0xFFFF, status >> 16
    words[20], words[21] = frame_counter & 0xFFFF, frame_counter >> 16
    words[24] = 30515  # FPA 32.0 °C
    words[29] = 30415
    words[30], words[31] = 70000 & 0xFFFF, 70000 >> 16
    return words.reshape(2, 160)


@pytest.fixture()
def node(tmp_path):
    path = tmp_path / "video1"
    path.write_bytes(b"")
    return path


def test_y16_to_celsius_with_blackbody_correction(node):
    raws = [render_thermal(i, ffc_period=0)[0] for i in range(6)]
    truth = render_thermal(0)[1]
    fake = FakeVideoCapture(lambda i: raws[i] if i < len(raws) else None)
    bb = ",".join(map(str, truth["blackbody_roi"]))
    uri = f"uvc-thermal://{node}?blackbody={bb}&blackbody_c=35&emissivity=0.98&reflected_c=22&roi=0,0,20,20"
    with open_with(uri, {"capture_factory": lambda d, a: fake}, latest=False) as src:
        frame = src.read(timeout=5)
    props = dict(fake.set_calls)
    assert (
        props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"Y16 ") and props[cv2.CAP_PROP_CONVERT_RGB] == 0
    )
    assert frame.format == "celsius32" and frame.image.shape == (120, 160)
    x, y, w, h = truth["face_box"]
    cheek = frame.image[y + h // 2 : y + h // 2 + 4, x + w // 4 : x + w // 4 + 4]
    assert abs(float(np.median(cheek)) - truth["skin_c"]) < 0.15
    assert frame.meta["blackbody"]["ok"] and frame.meta["measurable"]
    assert set(frame.meta["roi_stats"]) >= {"mean", "max", "p90"} and "spot" in frame.meta


def test_packed_bytes_layout_and_centikelvin_scale(node):
    raw = np.full((120, 160), 31015, np.uint16)  # 37.00 °C
    packed = raw.view(np.uint8).reshape(1, -1)  # some OpenCV builds hand Y16 over as bytes
    assert np.array_equal(as_y16(packed.reshape(120, 320)), raw)
    fake = FakeVideoCapture(lambda i: packed.reshape(120, 320) + np.uint8(i % 2))
    with open_with(
        f"uvc-thermal://{node}?spot_size=2", {"capture_factory": lambda d, a: fake}, latest=False
    ) as src:
        first, second = src.read(timeout=5), src.read(timeout=5)
    assert first.image.shape == (120, 160)
    assert abs(first.meta["spot"]["mean"] - 37.0) < 1e-4
    assert abs(second.meta["spot"]["mean"] - 39.57) < 1e-4  # +1 on both bytes = +257 cK
    with pytest.raises(SourceError, match="unexpected layout"):
        as_y16(np.zeros((4, 4), np.float32))


def test_telemetry_ffc_state_flags_frames(node):
    frames = []
    for i in range(8):
        raw = render_thermal(i, ffc_period=0)[0]
        state = 2 if i in (3, 4) else 3  # in progress during frames 3-4, then complete
        frames.append(np.vstack([raw, telemetry_rows(state, 1000 + i)]))
    fake = FakeVideoCapture(lambda i: frames[i] if i < len(frames) else None)
    with open_with(
        f"uvc-thermal://{node}?ffc_settle_frames=1", {"capture_factory": lambda d, a: fake}, latest=False
    ) as src:
        got = [src.read(timeout=5) for _ in range(8)]
    assert [f.meta["ffc"] for f in got] == [False, False, False, True, True, False, False, False]
    assert [f.meta["measurable"] for f in got] == [True, True, True, False, False, False, True, True]
    assert got[0].image.shape == (120, 160)  # telemetry rows stripped
    tel = got[5].meta["telemetry"]
    assert tel["frame_counter"] == 1005 and tel["ffc_state"] == "complete"
    assert abs(tel["fpa_temp_c"] - 32.0) < 1e-6 and tel["last_ffc_ms"] == 70000
    assert src.stats()["ffc_events"] == 1


def test_frozen_frames_without_telemetry_are_ffc(node):
    raws = [render_thermal(i, ffc_period=0)[0] for i in range(5)]
    seq = [raws[0], raws[1], raws[1], raws[1], raws[2], raws[3]]
    fake = FakeVideoCapture(lambda i: seq[i].copy() if i < len(seq) else None)
    with open_with(
        f"uvc-thermal://{node}?format=y16", {"capture_factory": lambda d, a: fake}, latest=False
    ) as src:
        assert src.read(timeout=5).format == "y16"
    fake2 = FakeVideoCapture(lambda i: seq[i].copy() if i < len(seq) else None)
    with open_with(
        f"uvc-thermal://{node}?ffc_settle_frames=0", {"capture_factory": lambda d, a: fake2}, latest=False
    ) as src:
        flags = [src.read(timeout=5).meta["ffc"] for _ in range(6)]
    assert flags == [False, False, True, True, False, False]


def test_split_and_parse_helpers():
    img = np.zeros((122, 160), np.uint16)
    body, words = split_telemetry(img)
    assert body.shape == (120, 160) and words.size == 320 and np.shares_memory(body, img)
    assert split_telemetry(np.zeros((120, 160), np.uint16))[1] is None
    assert split_telemetry(np.zeros((63, 80), np.uint16))[0].shape == (60, 80)
    fields = parse_telemetry_row_a(telemetry_rows(1, 7).reshape(-1)[:80])
    assert fields["ffc_state"] == "imminent" and fields["frame_counter"] == 7
