"""K-SVD: batch OMP finds exact supports, and K-SVD recovers a planted dictionary."""

from __future__ import annotations

import numpy as np
import pytest

from biogate.errors import ConfigError
from biogate.exporters.training.ksvd import (
    KSVDConfig,
    batch_omp,
    ksvd,
    load_dictionary,
    normalize_columns,
    sample_patches,
    save_dictionary,
)


def _planted(dim: int, atoms: int, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = normalize_columns(rng.standard_normal((dim, atoms))).astype(np.float32)
    x = np.zeros((dim, n), np.float32)
    for i in range(n):
        support = rng.choice(atoms, k, replace=False)
        x[:, i] = d[:, support] @ (rng.choice([-1, 1], k) * rng.uniform(0.5, 1.5, k))
    return d, x


def test_batch_omp_recovers_exact_supports() -> None:
    d, _ = _planted(64, 96, 1, 3, seed=1)
    rng = np.random.default_rng(2)
    supports = np.stack([rng.choice(96, 4, replace=False) for _ in range(200)])
    coefs = rng.choice([-1, 1], (200, 4)) * rng.uniform(0.5, 1.5, (200, 4))
    x = np.einsum("dnk,nk->dn", d[:, supports], coefs).astype(np.float32)
    index, coef = batch_omp(d, x, 4)
    recon = np.einsum("dnk,nk->dn", d[:, index], coef)
    assert np.abs(recon - x).max() < 1e-4
    hits = [set(a) == set(b) for a, b in zip(index, supports)]
    assert np.mean(hits) > 0.97


def test_ksvd_recovers_planted_dictionary(tmp_path) -> None:
    true_d, x = _planted(dim=20, atoms=30, n=1500, k=3, seed=0)
    ckpt = tmp_path / "ck.npz"
    learned, hist = ksvd(
        x, KSVDConfig(atoms=30, sparsity=3, iterations=40, seed=3, batch=512), checkpoint=ckpt, progress=False
    )
    # An atom counts as recovered when some learned atom matches it up to sign (|cos| > 0.99).
    match = np.abs(true_d.T @ learned).max(axis=1)
    assert (match > 0.99).mean() >= 0.9, match
    assert min(hist["rmse"]) < 0.35 * hist["rmse"][0]
    assert ckpt.is_file()


def test_ksvd_resumes_from_checkpoint(tmp_path) -> None:
    _, x = _planted(dim=16, atoms=20, n=400, k=2, seed=5)
    ckpt = tmp_path / "ck.npz"
    full, _ = ksvd(x, KSVDConfig(atoms=20, sparsity=2, iterations=4, seed=1), progress=False)
    ksvd(
        x,
        KSVDConfig(atoms=20, sparsity=2, iterations=2, seed=1),
        checkpoint=tmp_path / "other.npz",
        progress=False,
    )
    # a 4-iteration run resumed from a 2-iteration checkpoint of *other* settings is refused
    with pytest.raises(ConfigError, match="other K-SVD settings"):
        ksvd(
            x,
            KSVDConfig(atoms=20, sparsity=2, iterations=4, seed=1),
            checkpoint=tmp_path / "other.npz",
            progress=False,
        )
    # same settings: interrupted after 2 iterations (simulated by a checkpoint rewind), resumed to 4
    half, _ = ksvd(x, KSVDConfig(atoms=20, sparsity=2, iterations=4, seed=1), checkpoint=ckpt, progress=False)
    with np.load(ckpt) as z:
        assert int(z["iteration"]) == 4
    resumed, hist = ksvd(
        x, KSVDConfig(atoms=20, sparsity=2, iterations=4, seed=1), checkpoint=ckpt, progress=False
    )
    np.testing.assert_allclose(resumed, half)
    np.testing.assert_allclose(half, full, atol=1e-5)
    assert len(hist["rmse"]) == 4


def test_dictionary_round_trip_with_provenance(tmp_path) -> None:
    d = normalize_columns(np.random.default_rng(0).standard_normal((16, 24)))
    path = save_dictionary(tmp_path / "dict.npz", d, {"sources": {"x": 1}})
    np.testing.assert_allclose(load_dictionary(path), d.astype(np.float32))
    assert '"sources"' in path.with_suffix(".json").read_text()
    with pytest.raises(ConfigError, match="no K-SVD dictionary"):
        load_dictionary(tmp_path / "missing.npz")


def test_sample_patches_are_mean_removed() -> None:
    rng = np.random.default_rng(0)
    images = [("noise", rng.random((40, 40)).astype(np.float32))]
    x, counts = sample_patches(images, 8, 50, scales=(1.0,))
    assert x.shape == (64, 50) and counts == {"noise": 50}
    assert np.abs(x.mean(axis=0)).max() < 1e-5
