"""Train the cascade's quarter-turn classifier (``face_orient``) on real faces (CPU, minutes).

Data: :class:`biogate.exporters.data.face_orient_samples.OrientSampler` — proposal-like 24-px crops
of every face of the real *training* photographs and of the 100 LFW-subset faces, at any angle.
Loss: cross-entropy with label smoothing (crops near 45° between two turns are ambiguous).  The
record holds the accuracy on a fixed draw from the training faces and, with ``--exclude``, on the
left-out photographs' faces (what the cascade options were chosen on).  Every log line is JSON.

    nice -n 5 python -m biogate.exporters.training.train_face_orient --steps 4000 --width 24 --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.data.face_orient_samples import OrientSampler
from biogate.exporters.training.train_face_detect_any import run_photo_training, set_warmup_cosine_lr

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "face_orient.pt"


def to_tensor(crops: np.ndarray) -> Any:
    """(N, 24, 24, 3) uint8 → the MTCNN-normalised NCHW tensor the SDK feeds the net."""
    import torch

    from biogate.models.face_detect import _normalise

    return torch.from_numpy(_normalise(crops))


def accuracy(model: Any, sampler: OrientSampler, n: int = 2000) -> float:
    """Share of ``n`` fresh crops of ``sampler``'s faces whose best turn is right."""
    import torch

    if not sampler.faces:
        return float("nan")
    crops, labels = sampler.batch(n)
    model.eval()
    with torch.no_grad():
        pred = model(to_tensor(crops)).argmax(1).numpy()
    model.train()
    return float((pred == labels).mean())


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    from biogate.exporters.data.face_detect_data import load_detect_photos
    from biogate.exporters.nets.face_orient import FaceOrientNet

    torch.manual_seed(args.seed)
    excluded = set(args.exclude or ())
    photos = load_detect_photos(held_out=False)
    trained_on = [p for p in photos if p.source not in excluded]
    sampler = OrientSampler(seed=args.seed, photos=trained_on)
    model = FaceOrientNet(args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    history: list[dict[str, float]] = []
    started = time.time()
    model.train()
    for step in range(args.steps):
        lr = set_warmup_cosine_lr(opt, step, args.steps, args.lr, warmup=100)
        crops, labels = sampler.batch(args.batch)
        loss = F.cross_entropy(model.logits(to_tensor(crops)), torch.from_numpy(labels), label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.log_every == 0 or step == args.steps - 1:
            rec = {
                "step": step,
                "loss": round(float(loss.detach()), 4),
                "lr": round(lr, 6),
                "s": round(time.time() - started, 1),
            }
            history.append(rec)
            print(json.dumps(rec), flush=True)
    torch.save(model.state_dict(), args.out)
    check = OrientSampler(seed=args.seed + 1, photos=trained_on)  # a fresh draw of the same faces
    result = {
        "history": history,
        "seconds": round(time.time() - started, 1),
        "train_accuracy": accuracy(model, check),
        "data": {
            "photographs": len(trained_on),
            "photo_faces": len(sampler.photo_faces),
            "lfw_faces": len(sampler.lfw_faces),
            "samples_seen": args.steps * args.batch,
        },
    }
    if excluded:
        left_out = OrientSampler(
            seed=args.seed + 2, photos=[p for p in photos if p.source in excluded], lfw=False
        )
        result["left_out_accuracy"] = accuracy(model, left_out)
        result["left_out_faces"] = len(left_out.photo_faces)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    return run_photo_training(parser, argv, train, "biogate.exporters.training.train_face_orient")


if __name__ == "__main__":
    raise SystemExit(main())
