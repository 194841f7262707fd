"""The demo's visitors folder from the real photographs: every script visitor, the attack applied."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage")


def test_make_visitors_writes_a_folder_the_device_reads(tmp_path):
    from biogate.exporters.data.walkup_visitors import make_visitors
    from biogate.sim.walkup import Visitor, load_visitors

    script = (
        Visitor("enrolled: Eileen", "eileen_collins", True, "open"),
        Visitor("printed photo of Eileen", "eileen_collins", True, "deny", attack="print_photo"),
    )
    loaded = load_visitors(make_visitors(tmp_path, script))
    genuine, attack = loaded.visitors
    assert attack.attack == "print_photo" and attack.enrol is None and genuine.enrol is not None
    assert len(genuine.views) == 3 and not np.array_equal(genuine.views[0], attack.views[0])
    assert list(loaded.enrolment()) == ["eileen_collins"] and loaded.background.shape == (480, 640, 3)
