"""Cancelable templates: a keyed, revocable, many-to-one transform applied before storage.

Encryption at rest protects templates from someone who copies the database without the key;
a cancelable transform also protects them from someone who has both, and makes a leaked gallery
*revocable* (ISO/IEC 24745: irreversibility, unlinkability, renewability).  The transform is
random-projection hashing in the BioHashing family (Teoh, Ngo & Goh, Pattern Recognition 2004):

    protected(x) = sign(W · (x/‖x‖ − c)) / √m        W: m × d Gaussian, derived from the key

* **keyed** — ``W`` comes from a 256-bit secret; without it the m sign bits say nothing usable
  about x;
* **many-to-one** — the signs keep only which side of m hyperplanes x lies on, so the original
  template cannot be recomputed even with the key (an attacker can only search for *a* vector
  with the same signs);
* **revocable** — a new key gives unrelated hyperplanes: old protected templates no longer match
  new probes, and protected templates of one person under two keys cannot be linked.

Matching stays cosine on the protected vectors: for unit inputs at angle θ (after centring),
``E[cos(protected)] = 1 − 2θ/π``.  :meth:`CancelableTransform.threshold` maps a cosine
threshold through that formula; the real operating point (and the accuracy it costs) must be
measured on real faces — that audit is issue #11.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import numpy as np

from ..errors import GalleryError
from .crypto import GalleryKey

SCHEME = "biohash-sign/1"


class CancelableTransform:
    """The keyed sign-of-random-projection transform.

    Args:
        key: the transform secret (a :class:`GalleryKey`; keep it apart from the gallery key).
        dim: input template dimension (128 for the dlib embedder).
        bits: output bits m; more bits, closer to the input cosines (default 1024: the template
            audit measured a 0.40-point genuine-match cost there, 1.44 points at 256).
        center: a population mean of unit templates, subtracted before projecting so the
            hyperplanes cut through the data instead of beside it (dlib embeddings are far
            from zero-mean); not secret, stored with the gallery.
    """

    def __init__(self, key: GalleryKey, dim: int, bits: int = 1024, center: Any = None) -> None:
        if not isinstance(key, GalleryKey):
            raise GalleryError(f"the transform key must be a GalleryKey, got {type(key).__name__}")
        if dim < 1 or bits < 8:
            raise GalleryError(f"need dim >= 1 and bits >= 8, got dim={dim}, bits={bits}")
        self.dim, self.bits = int(dim), int(bits)
        c = np.zeros(self.dim, np.float32) if center is None else np.asarray(center, np.float32).reshape(-1)
        if c.shape != (self.dim,) or not np.isfinite(c).all():
            raise GalleryError(f"center must be a finite {self.dim}-d vector")
        self.center = c
        # The projection is a pure function of the secret and the shape: SHA-256 expands the key
        # into the seed of numpy's PCG64 stream, so the same key always rebuilds the same W.
        seed = hashlib.sha256(b"biogate.cancelable/1" + key.secret + f"{dim}x{bits}".encode()).digest()
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
        self._w = rng.standard_normal((self.bits, self.dim)).astype(np.float32)
        self._check = hmac.new(
            key.secret, b"biogate cancelable transform key check", hashlib.sha256
        ).hexdigest()

    def apply(self, templates: Any) -> np.ndarray:
        """Protect ``(n, dim)`` or ``(dim,)`` templates: ``(n, bits)`` float32 of ±1/√bits."""
        x = np.atleast_2d(np.asarray(templates, np.float32))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise GalleryError(f"the transform takes {self.dim}-d templates, got shape {np.shape(templates)}")
        if not np.isfinite(x).all():
            raise GalleryError("template contains NaN or infinity")
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if (norms < 1e-12).any():
            raise GalleryError("template is a zero vector (no direction to compare)")
        signs = np.where((x / norms - self.center) @ self._w.T >= 0, 1.0, -1.0)
        return (signs / np.sqrt(self.bits)).astype(np.float32)

    def threshold(self, cosine: float) -> float:
        """The protected-domain threshold expected for an input cosine threshold (1 − 2θ/π).

        Exact only for an uncentred transform (``center`` = 0). With a centring vector the angles
        change, so calibrate the threshold on impostor pairs instead: ``biogate audit inversion``
        prints the calibrated value for a protected gallery (docs/inversion.md).
        """
        return float(1.0 - 2.0 * np.arccos(np.clip(cosine, -1.0, 1.0)) / np.pi)

    # -- persistence (everything but the key) ---------------------------------------------------
    def params(self) -> bytes:
        """What the gallery stores to rebuild and check the transform: never the key itself."""
        return json.dumps(
            {
                "scheme": SCHEME,
                "dim": self.dim,
                "bits": self.bits,
                "center": self.center.astype("<f4").tobytes().hex(),
                "key_check": self._check,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_params(cls, params: bytes, key: GalleryKey, where: str) -> CancelableTransform:
        """Rebuild the transform of a gallery; a different key is a clear :class:`GalleryError`."""
        try:
            p = json.loads(params.decode())
            scheme = p.get("scheme")
            center = np.frombuffer(bytes.fromhex(p["center"]), "<f4")
            dim, bits, check = int(p["dim"]), int(p["bits"]), str(p["key_check"])
        except (ValueError, TypeError, KeyError, AttributeError):
            raise GalleryError(
                f"the transform parameters of gallery {where!r} are unreadable (damaged or edited file)"
            ) from None
        if scheme != SCHEME:
            raise GalleryError(f"gallery {where!r} uses template transform {scheme!r}; this SDK has {SCHEME}")
        transform = cls(key, dim, bits, center)
        if not hmac.compare_digest(transform._check, check):
            raise GalleryError(
                f"wrong transform key for gallery {where!r}: its templates were protected with another key "
                "(after a revocation, re-enrol everyone with the new key)"
            )
        return transform
