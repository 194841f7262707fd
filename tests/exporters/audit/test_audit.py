"""Audit metrics on planted embeddings, and the cancelable transform seen by the audit."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from biogate.errors import ConfigError  # noqa: E402
from biogate.exporters.audit.attack import pseudo_inverse  # noqa: E402
from biogate.exporters.audit.cli import read_templates  # noqa: E402
from biogate.exporters.audit.data import to_chips  # noqa: E402
from biogate.exporters.audit.metrics import (  # noqa: E402
    PlainMatcher,
    ProtectedMatcher,
    impostor_scores,
    threshold_at_fmr,
    unit,
)
from biogate.exporters.audit.report import Attacker, Templates, attack, run_audit  # noqa: E402
from biogate.gallery import CancelableTransform, GalleryKey  # noqa: E402

DIM = 16
BAND = 128 // DIM


class BandInverter(torch.nn.Module):
    """A perfect inverter for :func:`band_encoder`: template value k paints horizontal band k."""

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        rows = ((e + 1) / 2).repeat_interleave(BAND, dim=1)  # (N, 128)
        return rows[:, None, :, None].expand(-1, 3, -1, 128).contiguous()


def band_encoder(chips: np.ndarray) -> np.ndarray:
    """Reads the band values back from 150x150 chips (the system's black-box encoder here)."""
    centers = ((np.arange(DIM) + 0.5) * 150 / DIM).astype(int)
    return chips[:, centers, 75, 0].astype(np.float32) / 255.0 * 2 - 1


@pytest.fixture()
def planted():
    rng = np.random.default_rng(0)
    templates = unit(rng.standard_normal((40, DIM)))
    calib = unit(rng.standard_normal((200, DIM)))
    return templates, (calib, np.arange(200))


def test_threshold_at_fmr() -> None:
    imp = np.arange(1000, dtype=np.float64) / 1000
    t = threshold_at_fmr(imp, 1e-2)
    assert np.mean(imp >= t) <= 1e-2 and np.mean(imp >= np.nextafter(t, -np.inf)) > 1e-2
    assert np.mean(imp >= threshold_at_fmr(imp, 0.0)) == 0


def test_perfect_inverter_rate_is_one_and_constant_inverter_gives_the_baseline(planted) -> None:
    templates, _ = planted
    mean_face = BandInverter()(torch.from_numpy(templates[:1])).numpy()[0]  # a constant image
    attacker = Attacker(BandInverter(), mean_face)
    constant = band_encoder(to_chips(mean_face[None]))  # what the system sees of the mean face
    scores = unit(templates) @ unit(constant)[0]
    thr = float(np.median(scores))  # the constant face passes for about half the templates
    expected_baseline = float(np.mean(scores >= thr))
    matcher = PlainMatcher(thr)
    rows, images = attack(
        Templates(templates, [str(i) for i in range(40)], templates),
        attacker,
        band_encoder,
        matcher,
        0.99,
        ["blackbox", "baseline"],
    )
    black, base = rows
    assert black["rate_operating"] == 1.0 and black["mean_cosine"] > 0.999
    assert black["rate_fmr"] == 1.0  # 0.99 is below the perfect inverter's cosine
    assert base["rate_operating"] == pytest.approx(expected_baseline, abs=1 / 40)
    assert 0.3 < base["rate_operating"] < 0.7
    assert images["blackbox"].shape == (40, 3, 128, 128)


def test_run_audit_writes_report_and_grid(planted, tmp_path) -> None:
    templates, calib = planted
    chips = np.zeros((40, 150, 150, 3), np.uint8)
    attacker = Attacker(BandInverter(), np.full((3, 128, 128), 0.5, np.float32))
    report = run_audit(
        Templates(templates, [str(i) for i in range(40)], templates, chips),
        attacker,
        band_encoder,
        PlainMatcher(0.9),
        calib,
        ["blackbox"],
        tmp_path,
    )
    assert [r["method"] for r in report["results"]] == ["blackbox", "baseline"]
    assert report["results"][0]["rate_operating"] == 1.0
    assert report["fmr_calibration_impostor_pairs"] == 200 * 199 // 2
    assert (tmp_path / "inversion_grid.png").stat().st_size > 0
    assert json.loads((tmp_path / "inversion_audit.json").read_text())["templates"] == 40


def test_new_key_revokes_old_protected_templates() -> None:
    rng = np.random.default_rng(1)
    people = unit(rng.standard_normal((30, 128)))
    probes = unit(people + 0.05 * rng.standard_normal(people.shape))  # genuine, cosine ~0.98
    old = CancelableTransform(GalleryKey.generate(), 128, 1024)
    new = CancelableTransform(GalleryKey.generate(), 128, 1024)
    stored_old = old.apply(people)
    before = ProtectedMatcher(old, threshold=0.5)
    assert np.all(before.score(probes, stored_old) >= 0.5)
    after = ProtectedMatcher(new, threshold=0.5)  # same people, probes now protected with the new key
    assert np.all(np.abs(after.score(probes, stored_old)) < 0.2)
    # impostor-calibrated: the old templates under the new key look like strangers
    thr = threshold_at_fmr(impostor_scores(probes, np.arange(30), after), 0.01)
    assert np.mean(after.score(probes, stored_old) >= thr) <= 0.1


def test_pseudo_inverse_needs_the_key() -> None:
    rng = np.random.default_rng(2)
    x = unit(rng.standard_normal((20, 128)))
    key_t = CancelableTransform(GalleryKey.generate(), 128, 1024)
    guess = CancelableTransform(GalleryKey.generate(), 128, 1024)
    protected = key_t.apply(x)
    with_key = np.sum(pseudo_inverse(protected, key_t, 1.0) * x, axis=1)
    no_key = np.sum(pseudo_inverse(protected, guess, 1.0) * x, axis=1)
    assert with_key.mean() > 0.9 and abs(no_key.mean()) < 0.15


def test_bad_template_files_name_the_file(tmp_path) -> None:
    bad = tmp_path / "t.npz"
    np.savez(bad, other=np.zeros(3))
    with pytest.raises(ConfigError, match=r"t\.npz"):
        read_templates(str(bad))
    with pytest.raises(ConfigError, match=r"missing\.npy"):
        read_templates(str(tmp_path / "missing.npy"))
    good = tmp_path / "g.npy"
    np.save(good, np.ones((2, 8), np.float32))
    t = read_templates(str(good))
    assert t.stored.shape == (2, 8) and t.names == ["t0", "t1"]


def test_wilson_interval_brackets_the_rate() -> None:
    from biogate.exporters.audit.metrics import wilson

    lo, hi = wilson(0.0, 33)
    assert lo == 0.0 and 0.08 < hi < 0.12  # 0 of 33 still allows ~10 %
    lo, hi = wilson(0.5, 1000)
    assert lo < 0.5 < hi and hi - lo < 0.07


def test_protected_threshold_keeps_the_plain_false_match_rate() -> None:
    from biogate.exporters.audit.metrics import protected_threshold

    rng = np.random.default_rng(3)
    centres = unit(rng.standard_normal((60, 32)) + 3.0)  # clustered like real embeddings (not zero-mean)
    emb = unit(np.repeat(centres, 4, axis=0) + 0.08 * rng.standard_normal((240, 32)))
    labels = np.repeat(np.arange(60), 4)
    op = float(
        np.quantile(impostor_scores(emb, labels, PlainMatcher(0.0)), 0.95)
    )  # a 5 % FMR operating point
    plain_fmr = np.mean(impostor_scores(emb, labels, PlainMatcher(op)) >= op)
    t = CancelableTransform(GalleryKey.generate(), 32, 1024, unit(emb).mean(0))
    thr = protected_threshold(t, (emb, labels), op)
    prot_fmr = np.mean(impostor_scores(emb, labels, ProtectedMatcher(t, threshold=thr)) >= thr)
    assert plain_fmr > 0 and prot_fmr <= plain_fmr
    assert prot_fmr > plain_fmr - 0.01  # the smallest threshold within the plain FMR, not an arbitrary one
