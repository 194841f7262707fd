"""Issue #16 (found by ``benchmarks/bench_attacks.py``): the thermal skin check and partial attacks.

The skin check took the warmest 2×2 spot in the face's eye band: a print with the eyes cut out,
worn over a real face, shows warm skin exactly there. With the RGB face box mapped through the
documented ``[thermal] homography``, cut-eye masks of enrolled people opened the example kiosk
(3 of 5). Live now needs warm skin over most of the face, not one spot. The frames are the
synthetic Lepton scene (``synthetic://thermal``): paper at 22.5 °C where the print is, skin where
the wearer's face shows through.
"""

from __future__ import annotations

import numpy as np
import pytest

from biogate.frame import Frame
from biogate.models.thermal import ThermalConfig, ThermalFace
from biogate.sim.thermal import render_thermal

PAPER_C, SKIN_C = 22.5, 35.5
#: RGB detector box → thermal template face (the benchmark rig's calibration).
H = np.array([[0.5, 0.0, -98.0], [0.0, 0.46, -41.2], [0.0, 0.0, 1.0]])
RGB_BOX = (262.0, 170.0, 372.0, 300.0)  # a face as MTCNN finds it in the 640x480 frame


def _scene(index: int, real) -> Frame:
    """Paper over the face except where ``real(u, v)`` (face-relative coordinates) is True."""
    opts = {"seed": 11, "ffc_period": 0, "sensor_offset_c": 0.0, "sensor_gain": 1.0, "drift_c_per_frame": 0.0}
    skin, truth = render_thermal(index, skin_c=SKIN_C, **opts)
    paper, _ = render_thermal(index, skin_c=PAPER_C, **opts)
    x0, y0, fw, fh = truth["face_box"]
    yy, xx = np.mgrid[0 : skin.shape[0], 0 : skin.shape[1]].astype(np.float32)
    u, v = (xx - x0) / fw, (yy - y0) / fh
    return Frame(np.where(real(u, v), skin, paper), "y16", 0, meta={"ambient_c": 22.0})


def _eyes(u, v):  # two holes round the template's eyes (at 1/3 and 2/3 of the width, 0.42 down)
    return (((u - 1 / 3) / 0.11) ** 2 + ((v - 0.42) / 0.06) ** 2 <= 1) | (
        ((u - 2 / 3) / 0.11) ** 2 + ((v - 0.42) / 0.06) ** 2 <= 1
    )


SCENES = {
    "face": lambda u, v: np.ones_like(u, bool),
    "print": lambda u, v: np.zeros_like(u, bool),
    "cut_eyes": _eyes,
    "print_over_lower_face": lambda u, v: v < 0.5,
}


def _live(scene: str, homography: bool) -> list[bool]:
    tf = ThermalFace(config=ThermalConfig())
    out = []
    for index in (0, 40, 80):
        frame = _scene(index, SCENES[scene])
        readings = tf.measure(frame, rgb_boxes=[RGB_BOX], homography=H) if homography else tf.measure(frame)
        out.append(any(r.evidence()["thermal_live"] for r in readings))
    return out


@pytest.mark.parametrize("homography", [True, False], ids=["rgb-box-mapped", "thermal-segmentation"])
def test_a_real_face_is_live(homography):
    assert _live("face", homography) == [True, True, True]


@pytest.mark.parametrize("homography", [True, False], ids=["rgb-box-mapped", "thermal-segmentation"])
@pytest.mark.parametrize("scene", ["print", "cut_eyes", "print_over_lower_face"])
def test_a_print_with_warm_skin_showing_through_is_not_live(scene, homography):
    assert _live(scene, homography) == [False, False, False]


def test_the_reading_says_how_much_of_the_face_is_skin():
    tf = ThermalFace(config=ThermalConfig())
    (face,) = tf.measure(_scene(0, SCENES["face"]), rgb_boxes=[RGB_BOX], homography=H)
    (holed,) = tf.measure(_scene(0, _eyes), rgb_boxes=[RGB_BOX], homography=H)
    assert 30.0 <= holed.canthus_c <= 40.0  # the old check's whole evidence: a warm canthus
    assert face.skin_fraction > 0.9 and holed.skin_fraction < 0.3
