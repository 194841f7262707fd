"""Issue #16 findings 4, 7 and 9 (kiosk.toml side): every key is typed and range-checked.

On the old main ``gallery.threshold = 0.5`` or ``-1.0`` let unknown people in as their nearest
enrolled identity; ``threshold = "abc"`` gave a kiosk that never decided (a TypeError per frame)
and exited 0; ``every = "three"`` and ``heartbeat_s = "fast"`` were tracebacks; ``every = 1.5``,
``open_duration_ms = 3000.5`` and ``require_liveness = "no"`` were accepted.
"""

from __future__ import annotations

import pytest

from biogate.cli.main import main
from biogate.errors import ConfigError
from biogate.kiosk.config import load_config, parse_config


def write(tmp_path, text):
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def refused(tmp_path, text, *words):
    """load_config raises one ConfigError naming the file and ``words`` (table, key, expectation)."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    for word in words:
        assert word in message, message
    return message


# -- finding 4: thresholds ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1.0", "0", "0.0", "1.5", "nan", "inf"])
def test_threshold_outside_0_1_is_refused(tmp_path, value):
    refused(tmp_path, f"[gallery]\nthreshold = {value}\n", "[gallery]", "threshold")


def test_threshold_text_is_refused_at_load_not_per_frame(tmp_path):
    refused(tmp_path, '[gallery]\nthreshold = "abc"\n', "[gallery]", "threshold", "a number", "'abc'")


def test_threshold_below_the_bundle_calibrated_one_is_refused(tmp_path):
    config = load_config(write(tmp_path, "[gallery]\nthreshold = 0.5\n"))
    with pytest.raises(
        ConfigError, match=r"below the embedder bundle's calibrated cosine threshold 0\.93"
    ) as info:
        config.gallery.match_threshold(0.93, "bundles/face_embed_dlib", f"{config.name} [gallery]")
    assert "allow_weak_threshold" in str(info.value) and "kiosk.toml" in str(info.value)


def test_weak_threshold_needs_the_override_and_the_banner_says_so(tmp_path):
    config = load_config(write(tmp_path, "[gallery]\nthreshold = 0.5\nallow_weak_threshold = true\n"))
    threshold, notice = config.gallery.match_threshold(0.93, "bundles/face_embed_dlib")
    assert threshold == 0.5 and notice.startswith("WEAK") and "0.93" in notice


def test_stricter_or_default_threshold_is_used_as_given(tmp_path):
    stricter = load_config(write(tmp_path, "[gallery]\nthreshold = 0.97\n"))
    assert stricter.gallery.match_threshold(0.93, "b")[0] == 0.97
    assert parse_config({}).gallery.match_threshold(0.93, "b")[0] == 0.93


@pytest.mark.parametrize("calibrated", [None, -1.0, "abc", 0.0, 2.0, True])
def test_no_usable_threshold_anywhere_is_refused(calibrated):
    with pytest.raises(ConfigError, match="no usable calibrated cosine threshold"):
        parse_config({}).gallery.match_threshold(calibrated, "bundles/x")


def test_the_match_stage_never_runs_without_a_threshold():
    from biogate.kiosk.stages import MatchStage

    with pytest.raises(ConfigError):
        MatchStage(gallery=None, threshold=None)


# -- finding 7: tracebacks, and `biogate run` with a bad config ---------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[selection]\nevery = "three"\n', ["[selection]", "every", "an integer", "'three'"]),
        ('[gate]\nheartbeat_s = "fast"\n', ["[gate]", "heartbeat_s", "a number", "'fast'"]),
    ],
)
def test_wrong_types_are_one_config_error(tmp_path, text, words):
    refused(tmp_path, text, *words)


@pytest.mark.parametrize(
    "text",
    [
        '[selection]\nevery = "three"\n',
        '[gate]\nheartbeat_s = "fast"\n',
        '[gallery]\nthreshold = "abc"\n',
        "[gallery]\nthreshold = -1.0\n",
    ],
)
def test_biogate_run_with_a_bad_config_is_one_line_exit_2(tmp_path, capsys, text):
    status = main(["run", "--config", str(write(tmp_path, text))])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "kiosk.toml" in err, err


# -- finding 9: floats where integers belong, strings where booleans belong --------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[selection]\nevery = 1.5\n", ["every", "an integer", "1.5 (a float)"]),
        ("[selection]\nevery = 3.0\n", ["every", "an integer"]),
        ("[policy]\nopen_duration_ms = 3000.5\n", ["[policy]", "open_duration_ms", "an integer"]),
        ('[policy]\nrequire_liveness = "no"\n', ["[policy]", "require_liveness", "true or false"]),
        ("[models]\nthreads = true\n", ["[models]", "threads", "an integer"]),  # bool is not an int
        ("[thermal]\nhomography = [[1, 0], [0, 1]]\n", ["[thermal]", "homography", "3x3"]),
        ('[thermal]\nhomography = [[1, 0, 0], [0, 1, 0], [0, 0, "x"]]\n', ["homography[2][2]", "a number"]),
        ("[thermal]\nblackbody_roi = [1, 2]\nblackbody_c = 35.0\n", ["blackbody_roi", "[x, y, w, h]"]),
        ("[source]\noptions = 3\n", ["[source]", "options", "a table"]),
        ('[source]\nuri = "nope://x"\n', ["[source]", "unknown source scheme"]),
        ('[source]\nuri = "synthetic://face?fps=fast"\n', ["[source]", "fps"]),
        ("[selection]\nwindow_s = 0\n", ["window_s", "> 0"]),
        ("[selection]\nkeep_ratio = 1.5\n", ["keep_ratio", "[0, 1]"]),
        ('[selection]\nmetric = "sobel"\n', ["metric", "laplacian"]),
        ("[thermal]\nmax_age_ms = -1\n", ["max_age_ms", "> 0"]),
        ("[gate]\nheartbeat_s = 0\n", ["heartbeat_s"]),
        ("[gate]\nheartbeat_s = 30\n", ["heartbeat_s"]),
        ("[policy]\nopen_cooldown_s = -1\n", ["open_cooldown_s", ">= 0"]),
        ('[policy]\nliveness_source = "face"\n', ["liveness_source", "rgb"]),
        ("gallery = 3\n", ["[gallery]", "a table"]),
    ],
)
def test_type_and_range_errors_name_file_table_key(tmp_path, text, words):
    refused(tmp_path, text, *words)


def test_an_integer_is_fine_where_a_float_belongs(tmp_path):
    config = load_config(write(tmp_path, "[policy]\nfever_c = 38\n[gate]\nheartbeat_s = 1\n"))
    assert config.policy.fever_c == 38 and config.gate.heartbeat_s == 1
