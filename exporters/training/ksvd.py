"""K-SVD dictionary learning with vectorised batch OMP, in numpy (seed 000, spec §2.2.1 and §6 #5).

The dual-channel super-resolution net (:mod:`biogate.exporters.nets.dual_sr`) projects each
feature-map patch onto a dictionary ``D`` (``dim x atoms``, unit-norm columns) learned here from
high-definition images.  Faithful configuration: 64x64 patches (4096-d signals), 6144 atoms.

Algorithm (Aharon, Elad & Bruckstein 2006), alternating until ``iterations``:

* sparse coding: every signal gets at most ``sparsity`` atoms by Orthogonal Matching Pursuit,
  run on a whole batch at once from the Gram matrix ``G = DᵀD`` and ``DᵀX`` (Batch-OMP,
  Rubinstein, Zibulevsky & Elad 2008): one batched ``np.linalg.solve`` per greedy step;
* dictionary update: atom by atom, the rank-1 SVD of the residual restricted to the signals that
  use the atom (exact K-SVD), applied to a residual matrix kept in sync so no code is rebuilt.

After each iteration a checkpoint (``.npz``) is written atomically; a run with the same settings
resumes from it.  The saved dictionary carries its provenance (data sources, patch counts,
settings, per-iteration error) in a JSON side-car.

Command line (the dictionaries the SR configurations use; see ``docs/sr.md``)::

    nice -n 10 .venv/bin/python -m biogate.exporters.training.ksvd --patch 8 --atoms 128 \\
        --signals 20000 --iterations 15 --sparsity 6 --out exporters/weights/sr_dict_edge.npz
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biogate.errors import ConfigError


@dataclass(frozen=True)
class KSVDConfig:
    """K-SVD settings (everything that must match for a checkpoint to be resumed)."""

    atoms: int = 6144
    sparsity: int = 16
    iterations: int = 20
    seed: int = 0
    batch: int = 2048  # signals per batch-OMP call (memory: batch x atoms floats)


def normalize_columns(d: np.ndarray) -> np.ndarray:
    """Unit L2 norm per column; all-zero columns become a random unit vector's worth of nothing (left 0)."""
    norms = np.linalg.norm(d, axis=0, keepdims=True)
    return d / np.where(norms > 1e-12, norms, 1.0)


def batch_omp(
    d: np.ndarray, x: np.ndarray, sparsity: int, gram: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse codes of every column of ``x`` (``dim x n``) over unit-norm ``d`` (``dim x atoms``).

    Returns ``(index, coef)``, each ``(n, sparsity)``: atom indices and their least-squares
    coefficients (an atom picked twice can only happen for zero residuals; its extra coefficient is 0).
    """
    g = d.T @ d if gram is None else gram
    dtx = (d.T @ x).T  # (n, atoms)
    n = dtx.shape[0]
    rows = np.arange(n)
    index = np.zeros((n, sparsity), np.int64)
    coef = np.zeros((n, sparsity), dtx.dtype)
    alpha = dtx.copy()
    for k in range(sparsity):
        pick = np.abs(alpha).argmax(axis=1)
        index[:, k] = pick
        sel = index[:, : k + 1]
        g_sub = g[sel[:, :, None], sel[:, None, :]].astype(np.float64)  # (n, k+1, k+1), small
        g_sub += 1e-9 * np.eye(k + 1)  # duplicate picks (zero residual) stay solvable
        rhs = dtx[rows[:, None], sel].astype(np.float64)[:, :, None]
        c = np.linalg.solve(g_sub, rhs)[:, :, 0].astype(dtx.dtype)
        coef[:, : k + 1] = c
        # Residual correlations: Dᵀ(x - D_s c) = DᵀX - G[:, s] c, for the whole batch at once.
        alpha = dtx - np.einsum("nka,nk->na", g[sel], c)
    return index, coef


def _reconstruct(d: np.ndarray, index: np.ndarray, coef: np.ndarray, chunk: int = 512) -> np.ndarray:
    """``D Γ`` for codes stored as ``(index, coef)``; ``(dim, n)``, built in chunks to bound memory."""
    out = np.empty((d.shape[0], index.shape[0]), d.dtype)
    for s in range(0, index.shape[0], chunk):
        out[:, s : s + chunk] = np.einsum("dnk,nk->dn", d[:, index[s : s + chunk]], coef[s : s + chunk])
    return out


def _sparse_code_all(
    d: np.ndarray, x: np.ndarray, cfg: KSVDConfig, progress: bool, desc: str
) -> tuple[np.ndarray, np.ndarray]:
    from tqdm import tqdm

    gram = d.T @ d
    n = x.shape[1]
    index = np.zeros((n, cfg.sparsity), np.int64)
    coef = np.zeros((n, cfg.sparsity), x.dtype)
    for s in tqdm(range(0, n, cfg.batch), desc=desc, leave=False, disable=not progress):
        index[s : s + cfg.batch], coef[s : s + cfg.batch] = batch_omp(
            d, x[:, s : s + cfg.batch], cfg.sparsity, gram
        )
    return index, coef


def _update_atoms(
    d: np.ndarray, x: np.ndarray, index: np.ndarray, coef: np.ndarray, rng: np.random.Generator
) -> int:
    """Exact K-SVD atom updates in place; returns how many unused atoms were replaced."""
    residual = x - _reconstruct(d, index, coef)
    flat = index.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(d.shape[1] + 1))
    replaced = 0
    signal_error: np.ndarray | None = None
    for j in rng.permutation(d.shape[1]):
        pos = order[starts[j] : starts[j + 1]]
        if pos.size == 0:
            # Unused atom: restart it on the worst-represented signal (standard K-SVD practice).
            if signal_error is None:
                signal_error = (residual**2).sum(axis=0)
            worst = int(np.argmax(signal_error))
            signal_error[worst] = 0.0  # each badly-coded signal restarts one atom at most
            atom = residual[:, worst]
            norm = np.linalg.norm(atom)
            d[:, j] = (
                atom / norm if norm > 1e-12 else normalize_columns(rng.standard_normal((d.shape[0], 1)))[:, 0]
            )
            replaced += 1
            continue
        sig, slot = np.divmod(pos, index.shape[1])
        # A signal may hold atom j twice only with a zero coefficient; sum per signal.
        uniq, inv = np.unique(sig, return_inverse=True)
        g = np.bincount(inv, weights=coef[sig, slot], minlength=uniq.size)
        e = residual[:, uniq] + np.outer(d[:, j], g)
        u, s, vt = np.linalg.svd(e, full_matrices=False)
        d[:, j] = u[:, 0]
        new_g = s[0] * vt[0]
        coef[sig, slot] = 0.0
        first = np.zeros(uniq.size, np.int64)
        first[inv[::-1]] = np.arange(sig.size)[::-1]  # first slot per signal gets the whole coefficient
        coef[sig[first], slot[first]] = new_g
        residual[:, uniq] = e - np.outer(d[:, j], new_g)
    return replaced


def _replace_duplicates(
    d: np.ndarray, x: np.ndarray, index: np.ndarray, coef: np.ndarray, limit: float = 0.99
) -> int:
    """Restart atoms nearly equal to an earlier one on the worst-coded signals (K-SVD clean-up)."""
    g = np.abs(d.T @ d)
    np.fill_diagonal(g, 0.0)
    dup = np.flatnonzero(np.triu(g > limit).any(axis=0))
    if dup.size == 0:
        return 0
    err = ((x - _reconstruct(d, index, coef)) ** 2).sum(axis=0)
    worst = np.argsort(err)[::-1][: dup.size]
    d[:, dup] = normalize_columns(x[:, worst] - _reconstruct(d, index[worst], coef[worst]))
    return int(dup.size)


def _config_key(cfg: KSVDConfig, x: np.ndarray) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(np.ascontiguousarray(x[:, :: max(1, x.shape[1] // 256)]).tobytes())
    h.update(str(x.shape).encode())
    return h.hexdigest()[:16]


def _save_npz_atomic(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def ksvd(
    x: np.ndarray,
    cfg: KSVDConfig,
    checkpoint: str | Path | None = None,
    init: np.ndarray | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Learn ``D`` (``dim x cfg.atoms``, unit-norm columns) from signals ``x`` (``dim x n``).

    ``checkpoint``: an ``.npz`` written after every iteration; when it exists and was made with
    the same settings and data it is resumed, otherwise it is an error to reuse it.
    Returns ``(D, history)`` with per-iteration RMSE of the sparse approximation.
    """
    from tqdm import tqdm

    x = np.asarray(x, np.float32)  # float32 halves memory; the small LS solves run in float64
    if x.ndim != 2 or x.shape[1] < cfg.atoms:
        raise ConfigError(
            f"K-SVD needs a (dim, n) signal matrix with n >= atoms ({cfg.atoms}); got {x.shape}"
        )
    key = _config_key(cfg, x)
    rng = np.random.default_rng(cfg.seed)
    history: list[float] = []
    start = 0
    if init is not None:
        d = normalize_columns(np.array(init, np.float32))
    else:  # initialise from random distinct signals (the usual K-SVD start)
        d = normalize_columns(x[:, rng.choice(x.shape[1], cfg.atoms, replace=False)].copy())
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.is_file():
        with np.load(ckpt) as z:
            if str(z["key"]) != key:
                raise ConfigError(
                    f"checkpoint {ckpt} was made with other K-SVD settings or data; delete it or use another"
                )
            d, start, history = z["d"].astype(np.float32), int(z["iteration"]), z["history"].tolist()
            rng = np.random.default_rng([cfg.seed, start])
    bar = tqdm(
        range(start, cfg.iterations), desc="K-SVD", initial=start, total=cfg.iterations, disable=not progress
    )
    for it in bar:
        index, coef = _sparse_code_all(d, x, cfg, progress, desc=f"OMP it {it + 1}")
        replaced = _update_atoms(d, x, index, coef, rng)
        replaced += _replace_duplicates(d, x, index, coef)
        # Error after the update (codes re-fitted by the atom update itself).
        rmse = float(np.sqrt(np.mean((x - _reconstruct(d, index, coef)) ** 2)))
        history.append(rmse)
        bar.set_postfix(rmse=f"{rmse:.4f}", replaced=replaced)
        rng = np.random.default_rng([cfg.seed, it + 1])
        if ckpt is not None:
            _save_npz_atomic(
                ckpt, d=d, iteration=np.int64(it + 1), history=np.array(history), key=np.array(key)
            )
    return d, {"rmse": history, "key": key}


def save_dictionary(path: str | Path, d: np.ndarray, provenance: dict[str, Any]) -> Path:
    """Write ``D`` as float32 ``.npz`` (key ``dictionary``) and ``<path>.json`` with its provenance."""
    path = Path(path)
    _save_npz_atomic(path, dictionary=d.astype(np.float32))
    digest = hashlib.sha256(d.astype(np.float32).tobytes()).hexdigest()
    meta = {**provenance, "shape": list(d.shape), "sha256_float32": digest}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def load_dictionary(path: str | Path) -> np.ndarray:
    """The float32 ``dim x atoms`` dictionary saved by :func:`save_dictionary`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"no K-SVD dictionary at {path}; learn one with `python -m biogate.exporters.training.ksvd`"
        )
    with np.load(path) as z:
        return z["dictionary"].astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Training signals: grey patches of the offline high-definition face/hair photographs.


def hd_images(held_out: Sequence[str] = (), grey: bool = True) -> list[tuple[str, np.ndarray]]:
    """The offline HD photographs with faces/hair, float [0, 1] (grey or RGB), held-out faces blanked.

    Sources (see :mod:`biogate.exporters.data.face_data`): scikit-image ``astronaut`` (face + hair),
    ``camera`` (face, hair under a cap), ``chelsea`` (cat fur: the only dense hair-like texture
    offline), and insightface's ``t1.jpg`` group photograph (six faces with hair).  Faces whose
    identity is in ``held_out`` are painted with the photo's mean so no evaluation face leaks in.
    """
    import cv2
    import skimage.data

    from biogate.exporters.data.face_data import load_photos

    out: list[tuple[str, np.ndarray]] = []

    def convert(rgb: np.ndarray) -> np.ndarray:
        im = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if grey else rgb
        return np.ascontiguousarray(im, dtype=np.float32) / 255.0

    for photo in load_photos():
        im = convert(photo.image)
        for box, ident in zip(photo.boxes, photo.identities):
            if ident in held_out:
                x0, y0, x1, y1 = box
                m = 0.6 * (x1 - x0)  # face plus its hair
                im[max(0, int(y0 - m)) : int(y1 + m), max(0, int(x0 - m)) : int(x1 + m)] = im.mean(
                    axis=(0, 1)
                )
        out.append((photo.source, im))
    out.append(("skimage:chelsea", convert(skimage.data.chelsea())))
    return out


def sample_patches(
    images: Sequence[tuple[str, np.ndarray]],
    patch: int,
    n: int,
    seed: int = 0,
    scales: Sequence[float] = (1.0, 0.5),
) -> tuple[np.ndarray, dict[str, int]]:
    """``n`` mean-removed ``patch x patch`` grey patches (``patch² x n``), spread over images and scales.

    Flat patches (std below 0.01) carry no structure and are skipped.  Returns the signals and
    how many came from each source.
    """
    import cv2

    rng = np.random.default_rng(seed)
    pyramid = []
    for name, im in images:
        for s in scales:
            scaled = im if s == 1.0 else cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            if min(scaled.shape) >= patch:
                pyramid.append((name, scaled))
    if not pyramid:
        raise ConfigError(f"no image is at least {patch}x{patch} pixels")
    out = np.empty((patch * patch, n), np.float32)
    counts: dict[str, int] = {}
    got, tries = 0, 0
    while got < n:
        tries += 1
        if tries > 50 * n:
            raise ConfigError(f"only {got} textured {patch}x{patch} patches found, wanted {n}")
        name, im = pyramid[rng.integers(len(pyramid))]
        y, x = rng.integers(0, im.shape[0] - patch + 1), rng.integers(0, im.shape[1] - patch + 1)
        p = im[y : y + patch, x : x + patch]
        if rng.random() < 0.5:
            p = p[:, ::-1]
        if p.std() < 0.01:
            continue
        out[:, got] = (p - p.mean()).ravel()
        counts[name] = counts.get(name, 0) + 1
        got += 1
    return out, counts


def main(argv: Sequence[str] | None = None) -> None:
    from biogate.exporters.training.train_sr import HELD_OUT_IDENTITIES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=64, help="patch side; signals are patch² long (64 → 4096)")
    ap.add_argument("--atoms", type=int, default=6144)
    ap.add_argument("--sparsity", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--signals", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: <out>.ckpt.npz")
    args = ap.parse_args(argv)
    cfg = KSVDConfig(args.atoms, args.sparsity, args.iterations, args.seed, args.batch)
    images = hd_images(held_out=HELD_OUT_IDENTITIES)
    x, counts = sample_patches(images, args.patch, args.signals, seed=args.seed)
    t0 = time.time()
    d, hist = ksvd(x, cfg, checkpoint=args.checkpoint or args.out.with_suffix(".ckpt.npz"))
    save_dictionary(
        args.out,
        d,
        {
            "algorithm": "K-SVD (exact rank-1 SVD atom update) + batch OMP, biogate.exporters.training.ksvd",
            "config": asdict(cfg),
            "patch": args.patch,
            "signals": args.signals,
            "signal_preprocessing": "grey [0,1], mean removed per patch, random h-flip, scales 1.0 and 0.5",
            "sources": counts,
            "held_out_identities_blanked": list(HELD_OUT_IDENTITIES),
            "rmse_per_iteration": hist["rmse"],
            "seconds_this_run": round(time.time() - t0, 1),
        },
    )
    print(f"saved {args.out} ({d.shape[0]}x{d.shape[1]}), final RMSE {hist['rmse'][-1]:.4f}")


if __name__ == "__main__":
    main()
