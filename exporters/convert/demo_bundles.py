"""The demo's prebuilt folder: the kiosk's five bundles and the walk-up's visitors (training side).

``biogate demo --prepare DIR`` (and ``biogate demo`` without ``--bundles`` where torch is
installed, into the cache) calls :func:`prepare`: it exports ``mtcnn_pnet``, ``mtcnn_rnet``,
``mtcnn_onet``, ``face_embed_dlib`` and ``face_liveness`` into ``DIR/`` exactly as
``biogate export NAME --out DIR`` does, and writes the visitors folder ``DIR/walkup`` of
:mod:`biogate.exporters.data.walkup_visitors`. Copy ``DIR`` to a device and run
``biogate demo --bundles DIR`` there: the device needs neither torch nor scikit-image.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

KIOSK_MODELS = ("mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet", "face_embed_dlib", "face_liveness")
VISITORS = "walkup"

#: The files the demo folder is made from (nets, registry modules, weights, the exporter, the
#: visitors' photographs and attacks): a change to any of them rebuilds the cached folder.
_SOURCES = (
    "nets/mtcnn.py", "nets/dlib_resnet.py", "nets/liveness.py", "nets/dlib_reader.py", "zoo/mtcnn*.py",
    "zoo/face_embed*.py", "zoo/face_liveness.py", "weights/liveness_*", "convert/build.py",
    "convert/onnx_export.py", "convert/bundle_writer.py", "registry.py", "data/face_data.py",
    "data/walkup_visitors.py", "pad/attacks.py", "nets/face_any.py", "zoo/face_detect_any.py",
    "weights/face_any.*", "nets/face_orient.py", "zoo/face_orient.py", "weights/face_orient.*",
    "data/face_detect_data.py", "data/face_any_eval.py", "data/face_photos.py",
)  # fmt: skip
#: SDK modules the bundles' metrics are measured through (the detectors run as the device runs
#: them): a cached verdict of other detector code is not one biogate can vouch for.
_SDK_SOURCES = (
    "biogate.models.detect_ops", "biogate.models.face_detect", "biogate.models.face_any_geometry",
    "biogate.models.face_detect_any",
)  # fmt: skip


def _source_files() -> list[Path]:
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    files = sorted(p for pattern in _SOURCES for p in root.glob(pattern) if p.is_file())
    for name in _SDK_SOURCES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ImportError(f"{name} (a source of the demo bundles) is not importable")
        files.append(Path(spec.origin))
    return files


def sources_digest() -> str:
    """Hash of the demo's code, weights and photographs, so a cached folder is rebuilt when they change."""
    h = hashlib.sha256()
    for path in _source_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def default_cache() -> Path:
    """``$BIOGATE_CACHE`` or ``~/.cache/biogate``."""
    return Path(os.environ.get("BIOGATE_CACHE") or Path.home() / ".cache" / "biogate")


def cached_folder(cache: str | Path | None = None) -> Path:
    """Where :func:`prepare` keeps the demo folder inside a cache (keyed by :func:`sources_digest`)."""
    return Path(cache or default_cache()) / f"demo-{sources_digest()}"


def build_bundles(folder: Path, models: tuple[str, ...] = KIOSK_MODELS, log: Callable = print) -> Path:
    """Export ``models`` into ``folder`` unless a verified bundle is already there."""
    from biogate.bundle import open_bundle

    from .build import export

    for name in models:
        target = folder / name
        if (target / "manifest.json").exists():
            try:
                open_bundle(target)
                continue
            except Exception as exc:  # a damaged cache is rebuilt, never trusted
                log(f"  cached bundle {target} unusable ({exc}); rebuilding")
        t0 = time.monotonic()
        export(name, folder, parity_samples=4, measure_latency=False)
        log(f"  built {name} in {time.monotonic() - t0:.0f} s")
    return folder


def prepare(folder: str | Path, models: tuple[str, ...] = KIOSK_MODELS, log: Callable = print) -> Path:
    """Bundles and visitors into ``folder`` (reused where already there and valid); returns it."""
    from biogate.errors import ConfigError
    from biogate.sim.walkup import load_visitors

    from ..data.walkup_visitors import make_visitors

    folder = Path(folder)
    build_bundles(folder, models, log)
    try:
        load_visitors(folder / VISITORS)
    except ConfigError:
        make_visitors(folder / VISITORS)
        log(f"  wrote the walk-up's visitors to {folder / VISITORS}")
    return folder


__all__ = ["KIOSK_MODELS", "build_bundles", "cached_folder", "default_cache", "prepare", "sources_digest"]


def main(argv: list[str] | None = None) -> int:
    """``python -m biogate.exporters.convert.demo_bundles [DIR]``: prepare, print the folder last."""
    parser = argparse.ArgumentParser(description="prepare the demo folder (bundles + visitors)")
    parser.add_argument("folder", nargs="?", help="where (default: the cache, keyed by the sources' digest)")
    args = parser.parse_args(argv)
    print(prepare(Path(args.folder) if args.folder else cached_folder()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
