"""biogate.models.thermal: radiometric conversion, face boxes, homography, fusion and alarm events."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.capture.radiometry import celsius_to_centikelvin
from biogate.errors import ConfigError
from biogate.frame import Frame
from biogate.models.thermal import (
    TemperatureAlarm,
    ThermalConfig,
    ThermalFace,
    calibrate_homography,
    crop_face,
    map_boxes,
    to_object_celsius,
)


def _scene(face_c: float = 35.0, canthus_c: float = 36.5, room_c: float = 22.0) -> np.ndarray:
    """A flat face disc with two warm canthus spots in a room (°C)."""
    img = np.full((120, 160), room_c, np.float32)
    yy, xx = np.mgrid[0:120, 0:160]
    img[((xx - 80) / 25.0) ** 2 + ((yy - 60) / 32.0) ** 2 <= 1] = face_c
    img[54:56, 72:74] = canthus_c
    img[54:56, 86:88] = canthus_c
    return img


def test_centikelvin_conversion_is_exact():
    raw = np.array([[27315, 30915], [31015, 0]], dtype=np.uint16)
    frame = Frame(raw, "y16", 0)
    celsius, facts = to_object_celsius(frame, emissivity=1.0)
    assert celsius.dtype == np.float32
    assert np.allclose(celsius[0], [0.0, 36.0], atol=1e-4) and abs(celsius[1, 0] - 37.0) < 1e-4
    assert not facts["blackbody_corrected"]
    # emissivity 0.98 in a 22 °C room: skin reads ~0.26 °C warmer than the ε = 1 reading
    skin, _ = to_object_celsius(Frame(np.full((2, 2), 30889, np.uint16), "y16", 0), reflected_c=22.0)
    assert 35.95 < float(skin[0, 0]) < 36.05


def test_driver_corrected_frames_are_not_corrected_twice():
    image = np.full((8, 8), 36.0, np.float32)
    meta = {"emissivity": 0.98, "reflected_c": 22.0, "blackbody": {"ok": True}}
    celsius, facts = to_object_celsius(Frame(image, "celsius32", 0, meta=meta))
    assert facts["blackbody_corrected"] and np.all(celsius == 36.0)
    with pytest.raises(ConfigError, match="'y16' or 'celsius32'"):
        to_object_celsius(Frame(np.zeros((4, 4), np.uint8), "gray8", 0, source="v4l2:///dev/video0"))


class FakeEngine:
    """Stands in for a loaded bundle: a fixed temperature, a fixed embedding per call."""

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature
        self.calls = []

    def __call__(self, inputs):
        x = inputs["thermal"]
        self.calls.append(x.shape)
        emb = np.zeros((x.shape[0], 64), np.float32)
        emb[:, 0] = 1.0
        return {"embedding": emb, "temperature": np.full((x.shape[0], 1), self.temperature, np.float32)}


def _frame(img: np.ndarray, **meta) -> Frame:
    return Frame(celsius_to_centikelvin(img), "y16", 123, seq=7, source="synthetic://thermal", meta=meta)


def test_alarm_event_above_threshold_and_none_below():
    tf = ThermalFace(FakeEngine(38.4), ThermalConfig(emissivity=1.0, canthus_offset_c=0.5))
    readings = tf.measure(_frame(_scene(canthus_c=37.9), ambient_c=22.0))
    assert len(readings) == 1
    r = readings[0]
    assert abs(r.canthus_c - 37.9) < 0.05 and abs(r.canthus_core_c - 38.4) < 0.05
    assert abs(r.temperature_c - 38.4) < 0.05 and r.model_c == pytest.approx(38.4)
    assert isinstance(r.alarm, TemperatureAlarm)
    event = r.alarm.to_dict()
    assert event["event"] == "temperature_alarm" and event["threshold_c"] == 37.3
    assert event["t_capture"] == 123 and event["seq"] == 7 and event["source"] == "synthetic://thermal"
    # no reference in view: the reading is far less certain, and so is the alarm
    assert r.uncertainty_c > 1.0 and not r.blackbody_corrected
    assert 0.55 < event["probability_above"] < 0.9

    calm = ThermalFace(FakeEngine(36.6), ThermalConfig(emissivity=1.0)).measure(
        _frame(_scene(canthus_c=36.1))
    )
    assert calm[0].alarm is None
    strict = ThermalFace(None, ThermalConfig(emissivity=1.0, alarm_c=36.0)).measure(
        _frame(_scene(canthus_c=36.1))
    )
    assert strict[0].alarm is not None and strict[0].model_c is None


def test_blackbody_correction_removes_sensor_offset_and_tightens_uncertainty():
    img = _scene(canthus_c=36.5)
    img[4:14, 140:150] = 35.0  # the reference
    cfg = ThermalConfig(
        emissivity=1.0, blackbody_roi=(140, 4, 10, 10), blackbody_c=35.0, blackbody_emissivity=1.0
    )
    offset = -1.7  # a cold-reading sensor
    reading = ThermalFace(None, ThermalConfig(**{**cfg.__dict__, "alarm_c": 36.5})).measure(
        _frame(img + offset)
    )[0]
    assert reading.blackbody_corrected and reading.uncertainty_c < 0.5
    assert abs(reading.canthus_c - 36.5) < 0.05
    assert reading.alarm is not None and reading.alarm.probability_above > 0.99  # 37.0 ± 0.2 vs 36.5
    uncorrected = ThermalFace(None, ThermalConfig(emissivity=1.0)).measure(_frame(img + offset))[0]
    assert abs(uncorrected.canthus_c - (36.5 + offset)) < 0.05
    with pytest.raises(ConfigError, match="go in pairs"):
        ThermalConfig(blackbody_roi=(0, 0, 4, 4))


def test_ffc_frames_are_not_measured():
    tf = ThermalFace(None, ThermalConfig(emissivity=1.0))
    assert tf.measure(_frame(_scene(), measurable=False)) == []
    assert tf.measure(_frame(_scene(), ffc_in_progress=True)) == []


def test_homography_calibration_and_box_mapping():
    truth = np.array([[0.5, 0.0, -40.0], [0.0, 0.5, -10.0], [0.0, 0.0, 1.0]])
    rgb = np.array([[100, 100], [500, 120], [480, 400], [120, 380], [300, 250]], np.float64)
    hom = np.c_[rgb, np.ones(len(rgb))] @ truth.T
    thermal = hom[:, :2] / hom[:, 2:]
    matrix = calibrate_homography(rgb, thermal)
    assert np.allclose(matrix / matrix[2, 2], truth, atol=1e-6)
    (box,) = map_boxes([(200, 100, 360, 300)], matrix)
    assert np.allclose(box, (60, 40, 140, 140), atol=1e-6)
    tf = ThermalFace(FakeEngine(36.8), ThermalConfig(emissivity=1.0))
    # the face of _scene spans x 55..105, y 28..92 in thermal pixels: give it through the RGB camera
    rgb_box = (2 * (55 + 40), 2 * (28 + 10), 2 * (105 + 40), 2 * (92 + 10))
    (reading,) = tf.measure(_frame(_scene()), rgb_boxes=[rgb_box], homography=matrix)
    assert np.allclose(reading.box, (55, 28, 105, 92), atol=1e-6)
    with pytest.raises(ConfigError, match="homography"):
        tf.measure(_frame(_scene()), rgb_boxes=[rgb_box])
    with pytest.raises(ConfigError, match=">= 4"):
        calibrate_homography(rgb[:3], thermal[:3])


def test_identity_gallery_and_crop_normalisation():
    tf = ThermalFace(FakeEngine(36.8), ThermalConfig(emissivity=1.0))
    tf.enroll("ann", np.eye(64, dtype=np.float32)[:1])
    tf.enroll("bob", np.eye(64, dtype=np.float32)[1:2])
    (reading,) = tf.measure(_frame(_scene()))
    assert reading.identity == "ann" and reading.similarity == pytest.approx(1.0)
    crop = crop_face(np.full((50, 50), 37.0, np.float32), (10, 10, 30, 30))
    assert crop.shape == (1, 1, 64, 64) and np.allclose(crop, 1.0)


def test_identity_through_an_encrypted_thermal_gallery(tmp_path):
    from biogate.gallery import Gallery, GalleryKey

    gallery = Gallery(tmp_path / "thermal.db", GalleryKey.generate(), create=True, dim=64)
    gallery.enroll("p-001", "Ann", np.eye(64, dtype=np.float32)[:1])
    gallery.enroll("p-002", "Bob", np.eye(64, dtype=np.float32)[1:2])
    tf = ThermalFace(FakeEngine(36.8), ThermalConfig(emissivity=1.0), gallery=gallery)
    (reading,) = tf.measure(_frame(_scene()))
    assert reading.identity == "p-001" and reading.similarity == pytest.approx(1.0, abs=1e-3)
    gallery.close()


def test_two_references_correct_gain_and_reading_feeds_the_pipeline():
    img = _scene(canthus_c=37.0)
    img[4:14, 140:150] = 30.0
    img[20:30, 140:150] = 38.0
    cfg = ThermalConfig(
        emissivity=1.0,
        blackbody_roi=(140, 4, 10, 10),
        blackbody_c=30.0,
        blackbody2_roi=(140, 20, 10, 10),
        blackbody2_c=38.0,
        blackbody_emissivity=1.0,
    )
    tf = ThermalFace(None, cfg)
    assert len(tf.references()) == 2
    (reading,) = tf.measure(_frame(0.93 * img + 1.2))  # a sensor 7 % low in gain, 1.2 °C high
    assert abs(reading.canthus_c - 37.0) < 0.05
    from biogate.kiosk.policy import Evidence

    ev = Evidence(t_capture=1, **reading.evidence())
    assert ev.face_found and ev.thermal_live and ev.temperature_c == reading.temperature_c
    with pytest.raises(ConfigError, match="needs blackbody_roi"):
        ThermalConfig(blackbody2_roi=(0, 0, 4, 4), blackbody2_c=30.0)


def test_two_people_give_two_readings_largest_first():
    img = _scene(canthus_c=36.4)
    yy, xx = np.mgrid[0:120, 0:160]
    img[((xx - 135) / 12.0) ** 2 + ((yy - 40) / 16.0) ** 2 <= 1] = 35.5  # a second, farther face
    img[36:38, 131:133] = 38.6
    readings = ThermalFace(FakeEngine(36.8), ThermalConfig(emissivity=1.0)).measure(_frame(img))
    assert len(readings) == 2
    assert readings[0].box[2] - readings[0].box[0] > readings[1].box[2] - readings[1].box[0]
    assert abs(readings[1].canthus_c - 38.6) < 0.05 and readings[0].canthus_c < 36.6
