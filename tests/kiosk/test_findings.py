"""The kiosk's findings record: typed fields, and a misspelt one is an error, not a new key."""

from __future__ import annotations

import pytest

from biogate.kiosk.findings import Findings


def test_fields_default_to_nothing_found_and_typos_are_refused():
    r = Findings()
    assert r.face is None and r.faces == [] and r.track_key is None and r.thermal_live is None
    r.identity = "ada"
    with pytest.raises(AttributeError, match="no field 'identiy'"):
        r.identiy = "ada"
    assert Findings().faces is not Findings().faces  # no shared default list
