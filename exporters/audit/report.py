"""The audit run: templates in, reconstructions out, judged by the system's own matcher.

:func:`run_audit` is what ``biogate audit inversion`` calls; :func:`audit_project` is the
project's own audit (docs/inversion.md): the held-out identities in a plain gallery and in a
cancelable-template gallery, both modes, with baselines and the transform's accuracy cost.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .attack import WhiteBoxConfig, blackbox_invert, constant_invert, pseudo_inverse, whitebox_invert
from .data import Encoder, embed, to_chips
from .metrics import (
    PlainMatcher,
    ProtectedMatcher,
    attack_result,
    impostor_scores,
    protected_threshold,
    threshold_at_fmr,
    unit,
    verification_accuracy,
    wilson,
)


@dataclass
class Templates:
    """What an attacker read from storage: ``stored`` as the gallery keeps them (plain or protected).

    ``plain`` (unit templates) and ``chips`` (the enrolment photos, 150×150 RGB) are known only in a
    lab audit; they add the mean plain cosine and the originals row of the grid.
    """

    stored: np.ndarray
    names: list[str]
    plain: np.ndarray | None = None
    chips: np.ndarray | None = None

    def head(self, n: int | None) -> Templates:
        if n is None or n >= len(self.stored):
            return self
        cut = slice(0, n)
        return Templates(
            self.stored[cut],
            self.names[cut],
            None if self.plain is None else self.plain[cut],
            None if self.chips is None else self.chips[cut],
        )


@dataclass
class Attacker:
    """The attacker's tools: inverse model (generator), training-set mean face, white-box encoder."""

    inverter: object
    mean_face: np.ndarray
    white_encoder: object | None = None
    whitebox: WhiteBoxConfig = field(default_factory=WhiteBoxConfig)


def load_attacker(weights: str | Path, white_encoder: bool = False, **whitebox) -> Attacker:
    """The committed inverse model (``exporters/weights/inversion_*.pt``) [+ the dlib ResNet in torch]."""
    import torch

    from biogate.exporters.nets.inversion import load_inverse_net

    torch.set_num_threads(1)
    model, meta = load_inverse_net(str(weights))
    mean = np.asarray(meta["mean_face"], np.float32) / 255.0
    encoder = None
    if white_encoder:
        from biogate.exporters.nets.dlib_resnet import load_dlib_facenet

        encoder = load_dlib_facenet(normalize=True)
    return Attacker(model, mean, encoder, WhiteBoxConfig(**whitebox))


def reconstruct(attacker: Attacker, mode: str, plain_guess: np.ndarray, progress=None) -> np.ndarray:
    """Images for ``mode`` (``blackbox``, ``whitebox`` or ``baseline``) from plain-domain templates."""
    if mode == "blackbox":
        return blackbox_invert(attacker.inverter, plain_guess)
    if mode == "whitebox":
        if attacker.white_encoder is None:
            raise ValueError(
                "white-box mode needs the differentiable encoder (load_attacker(white_encoder=True))"
            )
        images, _ = whitebox_invert(
            attacker.inverter, attacker.white_encoder, plain_guess, attacker.whitebox, progress
        )
        return images
    if mode == "baseline":
        return constant_invert(attacker.mean_face, len(plain_guess))
    raise ValueError(f"unknown mode {mode!r}")


def attack(
    templates: Templates,
    attacker: Attacker,
    encoder: Encoder,
    matcher: PlainMatcher,
    fmr_threshold: float,
    modes: list[str],
    attacker_transform=None,
    spread: float = 0.0,
    label: str = "",
    progress=None,
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Run each mode against ``matcher``.

    Protected templates are first pseudo-inverted with ``attacker_transform`` (a guessed or stolen key).
    """
    guess = (
        templates.stored
        if attacker_transform is None
        else pseudo_inverse(templates.stored, attacker_transform, spread)
    )
    rows, images = [], {}
    for mode in modes:
        imgs = reconstruct(attacker, mode, unit(guess), progress)
        probes = embed(encoder, to_chips(imgs))
        res = attack_result(mode, matcher, probes, templates.stored, fmr_threshold, templates.plain)
        row = res.row()
        row["scenario"] = label or matcher.name
        rows.append(row)
        images[mode] = imgs
    return rows, images


def _pool(rows: list[dict]) -> dict:
    """One row from the same attack repeated (e.g. over guessed keys): rates and means pooled."""
    out = dict(rows[0])
    out["n"] = sum(r["n"] for r in rows)
    for k in ("rate_operating", "rate_fmr", "mean_score", "mean_cosine"):
        if out[k] is not None:
            out[k] = float(sum(r[k] * r["n"] for r in rows) / out["n"])
    out["repeats"] = len(rows)
    out["rate_operating_ci95"] = wilson(out["rate_operating"], out["n"])
    return out


def save_grid(path: Path, rows: dict[str, np.ndarray], columns: int = 8, size: int = 96) -> Path:
    """PNG grid: one labelled row per entry (``float (N,3,H,W)`` in [0, 1] or uint8 chips NHWC)."""
    lines = []
    for name, imgs in rows.items():
        if imgs.dtype != np.uint8:
            imgs = (np.clip(imgs.transpose(0, 2, 3, 1), 0, 1) * 255 + 0.5).astype(np.uint8)
        cells = [cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in imgs[:columns]]
        cells += [np.zeros((size, size, 3), np.uint8)] * (columns - len(cells))
        label = np.full((size, 160, 3), 255, np.uint8)
        cv2.putText(
            label, name[:20], (4, size // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA
        )
        lines.append(np.concatenate([label, *cells], axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(lines, axis=0)[:, :, ::-1])
    return path


def fmr_threshold_for(
    matcher: PlainMatcher, calib: tuple[np.ndarray, np.ndarray], fmr: float
) -> tuple[float, int]:
    """Threshold at ``fmr`` on the calibration set's impostor pairs, and how many pairs that was."""
    imp = impostor_scores(calib[0], calib[1], matcher)
    return threshold_at_fmr(imp, fmr), len(imp)


def print_table(rows: list[dict]) -> None:
    """The human-readable report."""
    head = f"{'scenario':<24}{'method':<10}{'n':>4}{'rate@op':>9}{'rate@FMR':>10}{'score':>8}{'cos':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        cos = "" if r["mean_cosine"] is None else f"{r['mean_cosine']:.3f}"
        print(
            f"{r['scenario']:<24}{r['method']:<10}{r['n']:>4}{r['rate_operating']:>9.3f}"
            f"{r['rate_fmr']:>10.3f}{r['mean_score']:>8.3f}{cos:>7}"
        )


def run_audit(
    templates: Templates,
    attacker: Attacker,
    encoder: Encoder,
    matcher: PlainMatcher,
    calib: tuple[np.ndarray, np.ndarray],
    modes: list[str],
    out_dir: Path,
    fmr: float = 1e-3,
    spread: float | None = None,
    progress=None,
    guesses: int = 3,
) -> dict:
    """Audit one gallery/template file: every mode plus the mean-face baseline; JSON + PNG in ``out_dir``.

    For a protected matcher (cancelable gallery) the attacker has the stored templates but not the
    transform key: they guess a key (``guesses`` independent guesses, pooled).  A second scenario
    gives the attacker the key too.
    """
    from biogate.gallery import GalleryKey

    thr_fmr, n_imp = fmr_threshold_for(matcher, calib, fmr)
    modes = [m for m in modes if m != "baseline"] + ["baseline"]
    rows, grid = [], {}
    if templates.chips is not None:
        grid["original"] = templates.chips
    if isinstance(matcher, ProtectedMatcher):
        t = matcher.transform
        if spread is None:
            spread = float(np.median(np.linalg.norm(unit(calib[0]) - t.center, axis=1)))
        # Each guessed key is one attacker; several guesses average out the luck of one key.
        attacks = [m for m in modes if m != "baseline"]
        per_guess = []
        for _ in range(max(1, guesses)):
            guess = type(t)(GalleryKey.generate(), t.dim, t.bits, t.center)
            r, imgs = attack(
                templates,
                attacker,
                encoder,
                matcher,
                thr_fmr,
                attacks,
                guess,
                spread,
                "cancelable, no key",
                progress,
            )
            per_guess.append(r)
        rows += [_pool(group) for group in zip(*per_guess)]
        grid.update({f"{m} no key": v for m, v in imgs.items()})
        r, imgs = attack(
            templates,
            attacker,
            encoder,
            matcher,
            thr_fmr,
            attacks,
            t,
            spread,
            "cancelable, key stolen",
            progress,
        )
        rows += r
        grid.update({f"{m} w/ key": v for m, v in imgs.items()})
        # the baseline ignores the template, so it needs no key: the mean face against the protected gallery
        r, _ = attack(templates, attacker, encoder, matcher, thr_fmr, ["baseline"], t, spread, "cancelable")
        rows += r
        grid["baseline"] = constant_invert(attacker.mean_face, min(len(templates.stored), 8))
    else:
        r, imgs = attack(
            templates, attacker, encoder, matcher, thr_fmr, modes, label="plain", progress=progress
        )
        rows += r
        grid.update(imgs)
    report = {
        "templates": len(templates.stored),
        "matcher": matcher.name,
        "threshold_operating": matcher.threshold,
        "fmr": fmr,
        "threshold_fmr": thr_fmr,
        "fmr_calibration_impostor_pairs": n_imp,
        # the zero-effort impostor: the share of other people's faces accepted at the operating point
        "zero_effort_rate": float(np.mean(impostor_scores(calib[0], calib[1], matcher) >= matcher.threshold)),
        "whitebox": attacker.whitebox.__dict__ if "whitebox" in modes else None,
        "results": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    report["grid"] = str(save_grid(out_dir / "inversion_grid.png", grid))
    (out_dir / "inversion_audit.json").write_text(json.dumps(report, indent=1))
    return report


def audit_project(
    data: dict,
    prep: dict,
    attacker: Attacker,
    encoder: Encoder,
    operating: float,
    out_dir: Path,
    modes: list[str],
    fmr: float = 1e-3,
    bits: int = 1024,
    limit: int | None = None,
    progress=None,
    guesses: int = 3,
    all_views: bool = False,
) -> dict:
    """The project's own audit: held-out identities (original photos) in a plain and a cancelable gallery."""
    from biogate.gallery import Gallery, GalleryKey

    emb, labels = data["embeddings"], data["labels"]
    test = np.isin(labels, prep["test_ids"])
    # one template per held-out person (the original photo), or every capture of them (more trials)
    test = np.flatnonzero(test if all_views else test & data["original"])
    names = [str(data["names"][labels[i]]) for i in test]
    plain = Templates(unit(emb[test]), names, unit(emb[test]), data["chips"][test]).head(limit)
    calib = (emb, labels)
    report = {
        "plain": run_audit(
            plain,
            attacker,
            encoder,
            PlainMatcher(operating),
            calib,
            modes,
            out_dir / "plain",
            fmr,
            progress=progress,
        )
    }

    # The same people enrolled in a cancelable gallery (the real Gallery code, a fresh key pair).
    train = np.isin(labels, prep["train_ids"])
    center = unit(emb[train]).mean(0)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery(
            str(Path(tmp) / "audit.db"),
            GalleryKey.generate(),
            create=True,
            dim=emb.shape[1],
            transform_key=GalleryKey.generate(),
            transform_bits=bits,
            transform_center=center,
        )
        ids = [f"{name}#{k}" for k, name in enumerate(plain.names)]  # one gallery identity per template
        for gid, template in zip(ids, plain.plain):
            gallery.enroll(gid, gid, template)
        stored = np.concatenate([gallery.templates(gid) for gid in ids])
        transform = gallery.transform
        gallery.close()
    protected = Templates(stored, plain.names, plain.plain, plain.chips)
    matcher = ProtectedMatcher(transform, threshold=protected_threshold(transform, calib, operating))
    report["cancelable"] = run_audit(
        protected,
        attacker,
        encoder,
        matcher,
        calib,
        modes,
        out_dir / "cancelable",
        fmr,
        progress=progress,
        guesses=guesses,
    )
    # The transform's cost: every same-identity / different-identity pair of the whole set.
    acc_plain = verification_accuracy(emb, labels, PlainMatcher(operating))
    report["accuracy"] = {
        "plain": acc_plain,
        "cancelable": verification_accuracy(emb, labels, matcher),
        "cancelable_mapped_threshold": verification_accuracy(
            emb, labels, ProtectedMatcher(transform, plain_threshold=operating)
        ),
        "bits": bits,
        "drop_points": 100
        * (
            acc_plain["genuine_accept_rate"]
            - verification_accuracy(emb, labels, matcher)["genuine_accept_rate"]
        ),
    }
    (out_dir / "inversion_audit_project.json").write_text(json.dumps(report, indent=1))
    return report


def transform_cost(
    emb: np.ndarray,
    labels: np.ndarray,
    operating: float,
    center: np.ndarray,
    bits: tuple[int, ...] = (256, 512, 1024, 2048),
    keys: int = 5,
) -> list[dict]:
    """Genuine-accept cost of the cancelable transform over several keys, at the plain system's FMR.

    For each output size, ``keys`` fresh transform keys; each gets its own calibrated threshold
    (:func:`protected_threshold`).  Also the accept rate at the formula-mapped threshold, to show
    why calibration is needed.
    """
    from biogate.gallery import CancelableTransform, GalleryKey

    plain = verification_accuracy(emb, labels, PlainMatcher(operating))
    rows = []
    for m in bits:
        drops, irr, mapped = [], [], []
        for _ in range(keys):
            t = CancelableTransform(GalleryKey.generate(), emb.shape[1], m, center)
            acc = verification_accuracy(
                emb, labels, ProtectedMatcher(t, threshold=protected_threshold(t, (emb, labels), operating))
            )
            drops.append(100 * (plain["genuine_accept_rate"] - acc["genuine_accept_rate"]))
            irr.append(acc["impostor_reject_rate"])
            mapped.append(
                verification_accuracy(emb, labels, ProtectedMatcher(t, plain_threshold=operating))[
                    "genuine_accept_rate"
                ]
            )
        rows.append(
            {
                "bits": m,
                "keys": keys,
                "gar_drop_points_mean": float(np.mean(drops)),
                "gar_drop_points_max": float(np.max(drops)),
                "impostor_reject_mean": float(np.mean(irr)),
                "plain_gar": plain["genuine_accept_rate"],
                "plain_impostor_reject": plain["impostor_reject_rate"],
                "gar_at_mapped_threshold_mean": float(np.mean(mapped)),
            }
        )
    return rows


__all__ = [
    "Attacker",
    "Templates",
    "attack",
    "audit_project",
    "fmr_threshold_for",
    "load_attacker",
    "print_table",
    "reconstruct",
    "run_audit",
    "save_grid",
    "transform_cost",
]
