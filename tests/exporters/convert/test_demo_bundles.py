"""The demo's prepared folder: keyed by its sources in the cache, and reused when valid."""

from __future__ import annotations

from biogate.exporters.convert import demo_bundles


def test_cached_folder_is_keyed_by_the_sources_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOGATE_CACHE", str(tmp_path))
    digest = demo_bundles.sources_digest()
    assert len(digest) == 16 and digest == demo_bundles.sources_digest()
    assert demo_bundles.cached_folder() == tmp_path / f"demo-{digest}"
    assert demo_bundles.cached_folder(tmp_path / "other") == tmp_path / "other" / f"demo-{digest}"
