"""kiosk.toml parsing: closed tables and keys, clear errors naming the file and key."""

from __future__ import annotations

import re

import pytest

from biogate import ConfigError
from biogate.cli.main import main
from biogate.kiosk.config import load_config, parse_config

GOOD = """
[source]
uri = "v4l2:///dev/video0"
options = { width = 1280, height = 720 }

[models]
detector = "bundles"
embedder = "bundles/face_embed_dlib"
liveness = "bundles/face_liveness"

[gallery]
path = "data/gallery.db"
key_file = "/etc/biogate/gallery.key"

[policy]
fever_c = 37.5
open_duration_ms = 1500

[gate]
port = "/dev/ttyUSB0"
"""


def test_good_config_resolves_relative_paths(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD)
    config = load_config(path)
    assert config.source.options == {"width": 1280, "height": 720}
    assert config.policy.fever_c == 37.5 and config.policy.open_duration_ms == 1500
    assert config.resolve(config.gallery.path) == str(tmp_path / "data" / "gallery.db")
    assert config.resolve(config.gallery.key_file) == "/etc/biogate/gallery.key"
    assert config.resolve(config.source.uri) == "v4l2:///dev/video0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[polcy]\nfever_c = 37\n", "unknown table(s) polcy"),
        ("[policy]\nfevr_c = 37\n", "unknown key(s) fevr_c"),
        ("[policy]\nfever_c = 80.0\n", "fever_c"),
        ("[selection]\nevery = 0\n", "every"),
        ("[thermal]\nhomography = [[1, 0], [0, 1]]\n", "3x3"),
        ("[thermal]\nblackbody_c = 35.0\n", "go together"),
        ("[gate\nport = 1\n", "not valid TOML"),
        ("source = 3\n", "must be a table"),
    ],
)
def test_bad_configs_name_the_problem(tmp_path, text, message):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_config_is_one_line_cli_error(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not exist" in err and len(err.splitlines()) == 1


def test_liveness_required_without_model_is_refused():
    from biogate.kiosk.app import build_stages

    config = parse_config({"models": {"detector": "x", "embedder": "y"}})
    with pytest.raises(ConfigError, match="require_liveness"):
        build_stages(config, gallery=None)
