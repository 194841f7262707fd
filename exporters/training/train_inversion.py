"""Train the seed-003 black-box inverse model (S102) against an embedder queried only by its output.

    nice -n 10 python -m biogate.exporters.training.train_inversion \\
        --encoder bundles/face_embed_dlib --cache /tmp/inv/data.npz \\
        --out exporters/weights/inversion_dlib128.pt --width 0.5 --epochs 20

1. builds the identities of :mod:`biogate.exporters.audit.data` (109 identities / 1160 images by
   default), queries the encoder bundle (any Engine; ``--encoder torch`` uses the PyTorch rebuild of
   the dlib ResNet, still only through its output) for every image and caches the pairs;
2. splits identities 70/30 (disjoint, stratified photo/LFW), targets = each identity's average face;
3. trains :class:`~biogate.exporters.nets.inversion.InverseNet` with L1 and Adam, input noise
   variance 0.001, keeping the epoch with the lowest test L1 (the seed's selection metric);
4. writes float16 weights with the config, split and metrics, and a JSON of the metrics.
"""

from __future__ import annotations

import argparse
import json
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


def train(
    data: dict,
    prep: dict,
    width: float = 0.5,
    residual_per_gap: int = 1,
    noise_variance: float = 0.001,
    loss: str = "l1",
    epochs: int = 20,
    batch: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    threads: int = 1,
    log=print,
):
    """Adam + pixel loss; returns ``(best model, history)`` selected on test L1."""
    import copy

    import torch

    from biogate.exporters.nets.inversion import InverseNet, pixel_loss

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    emb = torch.from_numpy(data["embeddings"].astype(np.float32))
    labels = torch.from_numpy(data["labels"].astype(np.int64))
    faces = torch.from_numpy(prep["faces"])
    model = InverseNet(emb.shape[1], width, residual_per_gap, noise_variance)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    criterion = pixel_loss(loss)
    train_idx = torch.from_numpy(prep["train"])
    test_idx = torch.from_numpy(prep["test"])
    best, best_l1, history = None, float("inf"), []
    for epoch in range(epochs):
        model.train()
        t0, total = time.time(), 0.0
        perm = train_idx[torch.randperm(len(train_idx))]
        for k in range(0, len(perm) - 1, batch):  # drop a last batch of 1 (BatchNorm needs 2)
            idx = perm[k : k + batch]
            if len(idx) < 2:
                continue
            out = model(emb[idx])
            step_loss = criterion(out, faces[labels[idx]])
            opt.zero_grad()
            step_loss.backward()
            opt.step()
            total += float(step_loss.detach()) * len(idx)
        sched.step()
        test_l1 = evaluate_l1(model, emb[test_idx], faces[labels[test_idx]])
        row = {"epoch": epoch + 1, "train_loss": total / len(perm), "test_l1": test_l1, "s": time.time() - t0}
        history.append(row)
        log(json.dumps(row))
        if test_l1 < best_l1:
            best_l1, best = test_l1, copy.deepcopy(model)
    return best.eval(), history


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
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--encoder", default="bundles/face_embed_dlib", help="embedder bundle, or 'torch'")
    p.add_argument(
        "--cache", type=Path, default=Path("/tmp/biogate_inversion/data.npz"), help="pairs cache (npz)"
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the cache even if it exists")
    p.add_argument("--views-photo", type=int, default=39, help="augmented captures per colour photograph")
    p.add_argument("--views-lfw", type=int, default=7, help="augmented captures per LFW crop")
    p.add_argument("--out", type=Path, default=Path("exporters/weights/inversion_dlib128.pt"))
    p.add_argument("--width", type=float, default=0.5, help="channel multiplier (1 = the seed's network)")
    p.add_argument("--residual", type=int, default=1, choices=(0, 1, 2), help="residual blocks per gap")
    p.add_argument("--noise-variance", type=float, default=0.001)
    p.add_argument("--loss", default="l1", choices=("l1", "l2", "l1+l2"))
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (<= 2 on shared machines)")
    p.add_argument("--heldout-templates", type=Path, help="also write the test identities' templates (npz)")
    p.add_argument("--no-train", action="store_true", help="only build the cache (and the templates file)")
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
    if args.no_train:
        return 0
    t0 = time.time()
    model, history = train(
        data,
        prep,
        args.width,
        args.residual,
        args.noise_variance,
        args.loss,
        args.epochs,
        args.batch,
        args.lr,
        args.seed,
        args.threads,
    )
    import torch

    from biogate.exporters.nets.inversion import save_inverse_net

    best = min(history, key=lambda r: r["test_l1"])
    meta = {
        "encoder": str(data["encoder"]),
        "data": str(data["describe"]),
        "train_ids": [str(data["names"][i]) for i in prep["train_ids"]],
        "test_ids": [str(data["names"][i]) for i in prep["test_ids"]],
        "best_epoch": best["epoch"],
        "test_l1": best["test_l1"],
        "epochs": args.epochs,
        "lr": args.lr,
        "batch": args.batch,
        "loss": args.loss,
        "train_seconds": round(time.time() - t0, 1),
        "mean_face": torch.from_numpy((prep["mean_face"] * 255 + 0.5).clip(0, 255).astype(np.uint8)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_inverse_net(model, str(args.out), meta)
    summary = {k: v for k, v in meta.items() if k != "mean_face"} | {"history": history}
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    print(f"best epoch {best['epoch']}: test L1 {best['test_l1']:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
