"""The demo's prepared folder: keyed by its sources in the cache, and reused when valid."""

from __future__ import annotations

from biogate.exporters.convert import demo_bundles


def test_cached_folder_is_keyed_by_the_sources_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOGATE_CACHE", str(tmp_path))
    digest = demo_bundles.sources_digest()
    assert len(digest) == 16 and digest == demo_bundles.sources_digest()
    assert demo_bundles.cached_folder() == tmp_path / f"demo-{digest}"
    assert demo_bundles.cached_folder(tmp_path / "other") == tmp_path / "other" / f"demo-{digest}"


def test_the_digest_covers_the_sdk_detector_code_the_metrics_ran_through():
    # The bundles' fitness metrics are measured through the SDK cascade: a cached folder whose
    # verdict came from other cascade code must be rebuilt, not reused.
    files = demo_bundles._source_files()
    names = {(p.parent.name, p.name) for p in files}
    assert {("models", "face_detect_any.py"), ("models", "face_any_geometry.py")} <= names
    assert ("data", "face_any_eval.py") in names and ("zoo", "face_detect_any.py") in names
    assert all(p.is_file() for p in files)
