"""Issue #16 finding 6 (gallery keys and file modes): keys that travel, leak or can be guessed.

Each test fails on the main of the finding and passes now.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from biogate.errors import GalleryError
from biogate.gallery import Gallery, GalleryKey
from biogate.kiosk.audit import AuditLog

from .gallery_helpers import cli, gallery_path, key_file, templates


def _enrol_cli(db: Path, key: Path, tmp_path: Path):
    np.save(tmp_path / "ada.npy", templates(1, 2))
    return cli(
        "enroll", "--gallery", str(db), "--key-file", str(key), "--id", "ada", "--name", "Ada",
        "--embeddings", str(tmp_path / "ada.npy"),
    )  # fmt: skip


def _one_line_exit_2(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_key_anywhere_under_the_database_folder_is_refused(tmp_path: Path) -> None:
    db = gallery_path(tmp_path)
    nested = db.parent / "secrets" / "deeper"
    nested.mkdir(parents=True)
    key = GalleryKey.generate().write(nested / "gallery.key")
    with pytest.raises(GalleryError, match="inside"):
        Gallery(db, GalleryKey.from_file(key), create=True)
    _one_line_exit_2(_enrol_cli(db, key, tmp_path), str(key))
    assert not db.exists()


def test_key_file_readable_by_group_or_others_is_refused(tmp_path: Path) -> None:
    key = key_file(tmp_path)
    for mode in (0o644, 0o640, 0o604, 0o660):
        key.chmod(mode)
        with pytest.raises(GalleryError, match="chmod 600"):
            GalleryKey.from_file(key)
    key.chmod(0o644)
    _one_line_exit_2(_enrol_cli(gallery_path(tmp_path), key, tmp_path), "chmod 600")
    key.chmod(0o600)
    assert _enrol_cli(gallery_path(tmp_path), key, tmp_path).returncode == 0


@pytest.mark.parametrize(
    "text",
    [
        b"a" * 32,
        b"0" * 64,
        (b"\xde\xad\xbe\xef" * 8).hex().encode(),
        bytes(range(32)).hex().encode(),
        b"correct horse battery staple 123",
    ],
    ids=["32 ASCII a", "zero key (hex)", "a repeated word (hex)", "counting bytes (hex)", "a passphrase"],
)
def test_low_entropy_key_is_refused(tmp_path: Path, text: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "keys" / "weak.key"
    key.parent.mkdir()
    key.write_bytes(text)
    key.chmod(0o600)
    with pytest.raises(GalleryError, match="not random"):
        GalleryKey.from_file(key)
    monkeypatch.setenv("BIOGATE_GALLERY_KEY", text.decode())
    with pytest.raises(GalleryError, match="not random"):
        GalleryKey.from_env()
    _one_line_exit_2(_enrol_cli(gallery_path(tmp_path), key, tmp_path), "not random")
    for _ in range(200):  # a key from the OS generator always passes
        GalleryKey.generate()


def test_gallery_audit_log_and_key_files_are_created_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask: files would come out 0644
    try:
        key = tmp_path / "keys" / "gallery.key"
        key.parent.mkdir()
        assert cli("gallery", "keygen", "--out", str(key)).returncode == 0
        db = gallery_path(tmp_path)
        assert _enrol_cli(db, key, tmp_path).returncode == 0
        with AuditLog(tmp_path / "logs" / "audit.jsonl"):
            pass
    finally:
        os.umask(old)
    files = [key, tmp_path / "logs" / "audit.jsonl", *db.parent.iterdir()]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert db.name in modes and all(mode == 0o600 for mode in modes.values()), modes
