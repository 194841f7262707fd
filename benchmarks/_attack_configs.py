"""The configurations ``bench_attacks.py`` tries: every shipped one, with only its paths changed.

* ``examples/*.toml`` — the file as shipped; the bundle, gallery, key and audit paths point into
  the benchmark's work folder (the camera, thermal camera and gate are handed to ``build_kiosk``
  directly, so their device paths are never opened);
* ``demo`` — the configuration ``biogate demo`` runs (``exporters/kiosk_demo.py``): the RGB
  liveness model loaded, the thermal skin check deciding (the RGB model is unfit);
* ``demo --no-liveness`` — the demo's other documented mode;
* ``policy=rgb`` / ``policy=thermal`` / ``policy=both`` — the demo's configuration with each
  ``liveness_source`` spelled out (``thermal`` without the RGB model loaded at all);
* with ``--overrides``: ``policy=rgb`` and ``policy=both`` with ``allow_unfit = ["face_liveness"]``
  — not shipped, never at a door: measured to show what the override costs.

A configuration whose decider is unfit and not overridden must refuse to start; the benchmark
checks it did, and counts any that started as ``unfit_model_starts``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
from _attack_scene import blackbody

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GALLERY_DB = "gallery/gallery.db"  # the key must live outside the database's folder
GALLERY_KEY = "keys/gallery.key"
GATE_KEY = "keys/gate.key"
#: RGB px -> thermal px of the benchmark's two cameras (the composed face's detector box onto the
#: thermal template's face, below the hair): what calibrate_homography would give for this rig.
RIG_HOMOGRAPHY = [[0.5, 0.0, -98.0], [0.0, 0.46, -41.2], [0.0, 0.0, 1.0]]


@dataclass
class Case:
    """One configuration: where it comes from, its tables, and whether it is a shipped one."""

    name: str
    origin: str
    data: dict[str, Any]
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


def demo_tables(liveness: bool = True) -> dict[str, Any]:
    """The tables ``exporters/kiosk_demo.py`` passes to ``parse_config`` (paths set by :func:`with_paths`)."""
    bb_roi, bb_c = blackbody()
    return {
        "models": {"liveness": "face_liveness" if liveness else ""},
        "thermal": {"enabled": True, "blackbody_roi": bb_roi, "blackbody_c": bb_c, "max_age_ms": 500.0},
        "selection": {"every": 1, "keep_ratio": 0.5, "window_s": 1.0, "min_score": 20.0},
        "policy": {
            "open_cooldown_s": 5.0,
            "deny_cooldown_s": 2.0,
            "open_duration_ms": 1000,
            "require_liveness": True,  # --no-liveness drops the RGB model, not the skin check
            "liveness_source": "thermal",  # what the demo picks while the RGB model is unfit
        },
    }


def _policy(source: str, rgb_model: bool, allow_unfit: bool = False) -> dict[str, Any]:
    data = demo_tables(liveness=True)
    data["policy"]["liveness_source"] = source
    if not rgb_model:
        data["models"]["liveness"] = ""
    if allow_unfit:
        data["models"]["allow_unfit"] = ["face_liveness"]
    return data


def cases(bundles: Path, overrides: bool = False, only: list[str] | None = None) -> list[Case]:
    """Every configuration to try (``only``: names, or words the names contain)."""
    out = [
        Case(f"examples/{p.name}", f"{p} (paths changed)", with_paths(tomllib.loads(p.read_text()), bundles))
        for p in sorted(EXAMPLES.glob("*.toml"))
    ]
    example = EXAMPLES / "kiosk.toml"
    if example.exists():  # its documented [thermal] homography, set to this rig's calibration
        data = with_paths(tomllib.loads(example.read_text()), bundles)
        data["thermal"]["homography"] = RIG_HOMOGRAPHY
        out.append(Case("examples/kiosk.toml + homography", f"{example} (paths, homography set)", data))
    out += [
        Case("demo", "exporters/kiosk_demo.py (biogate demo)", with_paths(demo_tables(True), bundles)),
        Case(
            "demo --no-liveness",
            "exporters/kiosk_demo.py (biogate demo --no-liveness)",
            with_paths(demo_tables(False), bundles),
        ),
        Case("policy=rgb", "demo, liveness_source = 'rgb'", with_paths(_policy("rgb", True), bundles)),
        Case(
            "policy=thermal",
            "demo, liveness_source = 'thermal', no RGB model",
            with_paths(_policy("thermal", False), bundles),
        ),
        Case("policy=both", "demo, liveness_source = 'both'", with_paths(_policy("both", True), bundles)),
    ]
    if overrides:
        for source in ("rgb", "both"):
            out.append(
                Case(
                    f"policy={source} + allow_unfit",
                    f"demo, liveness_source = {source!r}, allow_unfit = ['face_liveness'] (NOT shipped)",
                    with_paths(_policy(source, True, allow_unfit=True), bundles),
                    shipped=False,
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
