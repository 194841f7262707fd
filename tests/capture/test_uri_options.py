from __future__ import annotations

import os

import pytest

import biogate
from biogate.capture import SourceURI, describe, parse_uri
from biogate.errors import ConfigError


def test_parse_canonical_paths_and_video_index(tmp_path):
    uri = parse_uri("v4l2://0?width=640")
    assert uri == SourceURI("v4l2", "/dev/video0", (("width", "640"),), "v4l2://0?width=640")
    rel = parse_uri("file://clip.mp4")
    assert rel.location == os.path.abspath("clip.mp4")
    assert parse_uri("uvc-thermal:///dev/video3").location == "/dev/video3"
    assert parse_uri("synthetic://face").location == "face"
    assert parse_uri("mlx90640://i2c-1").location == "i2c-1"
    assert str(parse_uri("xray-raw:///d/a.raw?w=4&h=2")) == "xray-raw:///d/a.raw?w=4&h=2"
    assert hash(uri)  # frozen, usable as a key


@pytest.mark.parametrize("text", ["", "clip.mp4", "/dev/video0", "synthetic://", 42])
def test_bad_uri_is_one_clear_error(text):
    with pytest.raises(ConfigError) as info:
        parse_uri(text)
    assert "URI" in str(info.value) or "uri" in str(info.value)


def test_repeated_option_rejected():
    with pytest.raises(ConfigError, match="repeats option"):
        parse_uri("synthetic://face?fps=1&fps=2")


def test_unknown_scheme_lists_valid_ones():
    with pytest.raises(ConfigError) as info:
        biogate.open_source("rtsp://camera/stream")
    text = str(info.value)
    assert "'rtsp'" in text
    for scheme in ("v4l2://", "csi://", "rpicam://", "dicom://", "synthetic://", "uvc-thermal://"):
        assert scheme in text


def test_unknown_option_names_key_uri_and_valid_set():
    with pytest.raises(ConfigError) as info:
        biogate.open_source("synthetic://face?fsp=30")
    text = str(info.value)
    assert "fsp" in text and "synthetic://face?fsp=30" in text and "fps" in text and "grammar" in text


def test_bad_value_and_choice_errors():
    with pytest.raises(ConfigError, match="'fps'"):
        biogate.open_source("synthetic://face?fps=fast")
    with pytest.raises(ConfigError, match="valid: celsius32, y16"):
        biogate.open_source("synthetic://thermal", format="rgb")
    with pytest.raises(ConfigError, match="must be >= 0"):
        biogate.open_source("synthetic://face", fps=-1)
    with pytest.raises(ConfigError, match="unknown synthetic scene 'palm'"):
        biogate.open_source("synthetic://palm")


def test_keyword_options_override_query():
    with biogate.open_source(
        "synthetic://face?fps=5&frames=3", fps=0, latest=False, width=64, height=48
    ) as src:
        frames = list(src)
    assert len(frames) == 3
    assert frames[0].image.shape == (48, 64, 3)
    assert src.options["fps"] == 0


def test_describe_quotes_grammar_and_options():
    text = describe("xray-raw")
    assert "xray-raw://" in text and "endian" in text and "offset" in text
