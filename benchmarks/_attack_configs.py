"""The configurations ``bench_attacks.py`` tries: every shipped one, with only its paths changed.

* ``examples/*.toml`` — the file as shipped; the bundle, gallery, key and audit paths point into
  the benchmark's work folder (the camera, thermal camera and gate are handed to ``build_kiosk``
  directly, so their device paths are never opened);
* ``examples/kiosk.toml + homography`` — the same with its documented ``[thermal] homography``
  set to the benchmark rig's calibration (the RGB face box mapped onto the thermal image);
* ``demo`` — the configuration ``biogate demo`` runs (``biogate.kiosk.demo.kiosk_config``): the
  RGB liveness model loaded, the thermal skin check deciding (the RGB model is unfit);
* ``demo --no-liveness`` — the demo's other documented mode: no RGB model, the thermal policy alone;
* ``policy=rgb`` / ``policy=both`` — the demo's configuration with that ``liveness_source`` (the
  thermal policy is the demo's own, with and without the RGB model);
* with ``--overrides``: ``policy=rgb`` and ``policy=both`` with ``allow_unfit = ["face_liveness"]``
  — not shipped, never at a door: measured to show what the override costs.

A configuration whose decider is unfit and not overridden must refuse to start; the benchmark
checks it did, and counts any that started as ``unfit_model_starts``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GALLERY_DB = "gallery/gallery.db"  # the key must live outside the database's folder
GALLERY_KEY = "keys/gallery.key"
GATE_KEY = "keys/gate.key"
#: RGB px -> thermal px of the benchmark's two cameras (the composed face's detector box onto the
#: thermal template's face, below the hair): what calibrate_homography would give for this rig.
RIG_HOMOGRAPHY = [[0.5, 0.0, -98.0], [0.0, 0.46, -41.2], [0.0, 0.0, 1.0]]


@dataclass
class Case:
    """One configuration: where it comes from, how to build it in a work folder, whether shipped."""

    name: str
    origin: str
    build: Callable[[Path], Any]  # work folder -> KioskConfig
    shipped: bool = True  # False: an explicit override, measured but never a shipped configuration


def with_paths(data: dict[str, Any], bundles: Path) -> dict[str, Any]:
    """Point the bundle, gallery, key and audit paths at ``bundles`` and the work folder."""
    data = copy.deepcopy(data)
    models = data.setdefault("models", {})
    models["detector"] = str(bundles)
    models["embedder"] = str(bundles / "face_embed_dlib")
    if models.get("liveness"):
        models["liveness"] = str(bundles / "face_liveness")
    for key in ("super_resolution", "refine", "thermal"):
        if models.get(key):
            raise ValueError(f"[models] {key} names a bundle the benchmark does not build")
    gallery = data.setdefault("gallery", {})
    gallery["path"], gallery["key_file"] = GALLERY_DB, GALLERY_KEY
    data.setdefault("gate", {})["key_file"] = GATE_KEY
    data.setdefault("audit", {})["path"] = "audit.jsonl"
    return data


def _toml(path: Path, bundles: Path, name: str, **thermal: Any) -> Callable[[Path], Any]:
    data = with_paths(tomllib.loads(path.read_text()), bundles)
    data.setdefault("thermal", {}).update(thermal)

    def build(work: Path) -> Any:
        from biogate.kiosk.config import parse_config

        return parse_config(data, base_dir=work, name=name)

    return build


def demo(
    bundles: Path, liveness: bool = True, source: str = "thermal", allow_unfit: bool = False, **policy: Any
):
    """The demo's own configuration (``biogate.kiosk.demo.kiosk_config``), in a work folder."""

    def build(work: Path) -> Any:
        from biogate.kiosk.demo import kiosk_config

        config = kiosk_config(bundles, work, liveness, source, **policy)
        if allow_unfit:
            models = dataclasses.replace(config.models, allow_unfit=["face_liveness"])
            config = dataclasses.replace(config, models=models)
        return config

    return build


def cases(bundles: Path, overrides: bool = False, only: list[str] | None = None) -> list[Case]:
    """Every configuration to try (``only``: names, or words the names contain)."""
    out = [
        Case(f"examples/{p.name}", f"{p} (paths changed)", _toml(p, bundles, f"{p} (paths changed)"))
        for p in sorted(EXAMPLES.glob("*.toml"))
    ]
    example = EXAMPLES / "kiosk.toml"
    if example.exists():  # its documented [thermal] homography, set to this rig's calibration
        why = f"{example} (paths, homography set)"
        out.append(
            Case(
                "examples/kiosk.toml + homography",
                why,
                _toml(example, bundles, why, homography=RIG_HOMOGRAPHY),
            )
        )
    out += [
        Case("demo", "biogate demo (biogate.kiosk.demo.kiosk_config)", demo(bundles)),
        Case("demo --no-liveness", "biogate demo --no-liveness", demo(bundles, liveness=False)),
        Case("policy=rgb", "demo, liveness_source = 'rgb'", demo(bundles, source="rgb")),
        Case("policy=both", "demo, liveness_source = 'both'", demo(bundles, source="both")),
    ]  # fmt: skip
    if overrides:
        for source in ("rgb", "both"):
            why = f"demo, liveness_source = {source!r}, allow_unfit = ['face_liveness'] (NOT shipped)"
            out.append(
                Case(
                    f"policy={source} + allow_unfit",
                    why,
                    demo(bundles, source=source, allow_unfit=True),
                    False,
                )
            )
    if only:  # a word that is a configuration's whole name picks it alone, else every name containing it
        names = {c.name for c in out}
        out = [c for c in out if any(w == c.name if w in names else w in c.name for w in only)]
    return out


def deciders(config: Any) -> list[tuple[str, str, str]]:
    """(bundle folder, role, name) of every model that takes part in ``config``'s decisions."""
    from biogate.models.face_detectors import resolve_detector

    m, p = config.models, config.policy
    folder = Path(config.resolve(m.detector))
    first = "face_detect_any" if resolve_detector(folder, m.face_detector) == "any" else "mtcnn_pnet"
    found = [(str(folder / n), "detector", n) for n in (first, "mtcnn_rnet", "mtcnn_onet")]
    found.append((config.resolve(m.embedder), "embedder", Path(m.embedder).name))
    if m.liveness and p.require_liveness and p.liveness_source in ("rgb", "both"):
        found.append((config.resolve(m.liveness), "liveness", Path(m.liveness).name))
    if m.thermal and config.thermal.enabled:
        found.append((config.resolve(m.thermal), "thermal", Path(m.thermal).name))
    return found


def unfit_without_override(config: Any) -> list[str]:
    """The deciding models that are unfit and that ``[models] allow_unfit`` does not name."""
    from biogate.bundle import open_bundle

    allowed = set(config.models.allow_unfit)
    out = []
    for folder, role, name in deciders(config):
        verdict = open_bundle(folder).fitness(role)
        if not verdict.fit and not ({name, role} & allowed):
            out.append(f"{name} ({role}): {verdict.message()}")
    return out
