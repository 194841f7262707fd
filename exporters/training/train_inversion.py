"""The seed-003 black-box inverse model (S102): its data, built by querying an embedder only by its output.

Trained by ``biogate train face_inversion_dlib128`` (:mod:`biogate.exporters.training.tasks.face_inversion`)::

    nice -n 10 biogate train face_inversion_dlib128 --data portraits --set views=39 --out runs/inversion
    nice -n 10 biogate train face_inversion_dlib128 --data folders:/data/faces \
        --set encoder=bundles/face_embed_dlib --out runs/inversion --epochs 20

This module keeps the pieces ``biogate audit`` and ``examples/template_audit.py`` use, and its
command builds the audit's pairs cache and held-out templates (no training)::

    python -m biogate.exporters.training.train_inversion --encoder bundles/face_embed_dlib \
        --cache /tmp/inv/data.npz --heldout-templates /tmp/inv/heldout.npz


1. :func:`build_cache` builds the identities of :mod:`biogate.exporters.audit.data` (109 identities /
   1160 images by default), queries the encoder (any Engine; ``torch`` uses the PyTorch rebuild of
   the dlib ResNet, still only through its output) for every image and caches the pairs;
2. :func:`prepare` splits identities 70/30 (disjoint, stratified photo/LFW), targets = each
   identity's average face; :func:`evaluate_l1` is the seed's selection metric (mean L1).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from biogate.exporters.audit.data import (
    average_faces,
    build_identities,
    embed,
    engine_encoder,
    split_identities,
    to_target,
)


def load_encoder(spec: str):
    """``torch`` → the PyTorch dlib ResNet as a black-box callable; otherwise an embedder bundle."""
    if spec == "torch":
        import torch

        from biogate.exporters.nets.dlib_resnet import load_dlib_facenet

        net = load_dlib_facenet(normalize=True)

        def encode(chips: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                x = torch.from_numpy(np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32))
                return net(x).numpy()

        return encode
    from biogate import engine

    return engine_encoder(engine.load(spec, backend="onnxruntime", precision="fp32"))


def build_cache(encoder: str, path: Path, views_photo: int, views_lfw: int, seed: int) -> dict:
    """Identities → chips, embeddings, labels; saved as ``path`` (npz) and returned."""
    ids = build_identities(views_photo=views_photo, views_lfw=views_lfw, seed=seed)
    t0 = time.time()
    emb = embed(load_encoder(encoder), ids.chips, progress=True)
    data = {
        "chips": ids.chips,
        "embeddings": emb,
        "labels": ids.labels,
        "names": np.array(ids.names),
        "kinds": np.array(ids.kinds),
        "original": ids.original,
        "encoder": np.array(str(encoder)),
        "describe": np.array(ids.describe()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    print(f"{ids.describe()}; embedded in {time.time() - t0:.0f} s -> {path}")
    return data


def load_cache(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def prepare(data: dict, test_fraction: float = 0.3, seed: int = 0) -> dict:
    """Targets (average faces), split and the per-image training pairs."""
    labels = data["labels"]
    kinds = [str(k) for k in data["kinds"]]
    images = to_target(data["chips"])
    faces = average_faces(images, labels, len(kinds))
    train_ids, test_ids = split_identities(kinds, test_fraction, seed)
    return {
        "faces": faces,
        "train_ids": train_ids,
        "test_ids": test_ids,
        "train": np.flatnonzero(np.isin(labels, train_ids)),
        "test": np.flatnonzero(np.isin(labels, test_ids)),
        "mean_face": images[np.isin(labels, train_ids)].mean(0),
    }


def save_heldout_templates(data: dict, prep: dict, path: Path) -> Path:
    """The test identities' original photos as a templates file for ``biogate audit inversion``."""
    rows = np.flatnonzero(np.isin(data["labels"], prep["test_ids"]) & data["original"])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        templates=data["embeddings"][rows],
        names=np.array([str(data["names"][data["labels"][i]]) for i in rows]),
        chips=data["chips"][rows],
    )
    return path


def evaluate_l1(model, emb, targets, batch: int = 64) -> float:
    """Mean L1 between the model's outputs (eval mode, no noise) and the targets."""
    import torch

    from biogate.exporters.nets.inversion import l1_loss

    model.eval()
    total = 0.0
    with torch.no_grad():
        for k in range(0, len(emb), batch):
            total += float(l1_loss(model(emb[k : k + batch]), targets[k : k + batch])) * len(
                emb[k : k + batch]
            )
    return total / max(1, len(emb))


def main(argv: list[str] | None = None) -> int:
    """Build the pairs cache and the held-out templates file the audit uses (training: ``biogate train``)."""
    p = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--encoder", default="bundles/face_embed_dlib", help="embedder bundle, or 'torch'")
    p.add_argument(
        "--cache", type=Path, default=Path("/tmp/biogate_inversion/data.npz"), help="pairs cache (npz)"
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the cache even if it exists")
    p.add_argument("--views-photo", type=int, default=39, help="augmented captures per colour photograph")
    p.add_argument("--views-lfw", type=int, default=7, help="augmented captures per LFW crop")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout-templates", type=Path, help="write the test identities' templates (npz)")
    args = p.parse_args(argv)
    data = (
        load_cache(args.cache)
        if args.cache.is_file() and not args.rebuild
        else build_cache(args.encoder, args.cache, args.views_photo, args.views_lfw, args.seed)
    )
    prep = prepare(data, seed=args.seed)
    print(
        f"{data['describe']}; train {len(prep['train_ids'])} identities / {len(prep['train'])} images, "
        f"test {len(prep['test_ids'])} identities / {len(prep['test'])} images (disjoint)"
    )
    if args.heldout_templates:
        print(f"held-out templates -> {save_heldout_templates(data, prep, args.heldout_templates)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
