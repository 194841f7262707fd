"""Train the any-orientation face detector's proposal net on real photographs (CPU, resumable).

Data: :class:`biogate.exporters.data.face_any_samples.Sampler` — canvases cut from the real, fully
labelled *training* photographs at any angle and scale, LFW-subset composites, face-free scenes,
mined hard negatives.  Loss: focal-style BCE on the score map (ignored cells masked), smooth-L1 on
centre/size and MSE on (cos, sin) at face cells.  Hard negatives are mined at 30% and 60% of the
run by running the net over the training photographs (turned by 0/90/180/270° and ±30°) and
face-free scenes, keeping the strongest responses away from every face.

Checkpoints (weights + optimiser + step + mined negatives) every ``--save-every`` steps; rerun
with the same ``--out`` to resume.  Every log line is JSON.

    nice -n 5 python -m biogate.exporters.training.train_face_detect_any --steps 6000 --threads 2 \\
        > /tmp/face_any.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from biogate.exporters.data.face_any_samples import HardNegative, Sampler
from biogate.exporters.data.face_detect_data import inside_regions, rotate_photo

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "face_any.pt"


def batch_tensors(samples: list) -> tuple[Any, ...]:
    import torch

    x = torch.from_numpy(np.stack([s[0] for s in samples]).astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    score = torch.from_numpy(np.stack([s[1].score for s in samples]))
    weight = torch.from_numpy(np.stack([s[1].weight for s in samples]))
    reg = torch.from_numpy(np.stack([s[1].reg for s in samples]))
    return x, score, weight, reg


def loss_fn(out: Any, score: Any, weight: Any, reg: Any) -> tuple[Any, dict[str, float]]:
    import torch
    import torch.nn.functional as F

    logit = out[:, 0]
    bce = F.binary_cross_entropy_with_logits(logit, score, reduction="none")
    p = torch.sigmoid(logit)
    focal = bce * ((score - p).abs() ** 1.5)  # focal-style: easy cells count little
    n_pos = score.sum().clamp(min=1.0)
    cls = (focal * weight).sum() / n_pos
    pos = score > 0.5
    if pos.any():
        o = out.permute(0, 2, 3, 1)[pos]
        t = reg.permute(0, 2, 3, 1)[pos]
        box = F.smooth_l1_loss(o[:, 1:4], t[:, :3], beta=0.1)
        ang = F.mse_loss(o[:, 4:6], t[:, 3:5])
    else:
        box = ang = out.sum() * 0.0
    loss = cls + box + ang
    return loss, {"cls": float(cls.detach()), "box": float(box.detach()), "ang": float(ang.detach())}


def mine(model: Any, sampler: Sampler, per_image: int = 6, threshold: float = 0.3) -> list[HardNegative]:
    """Strong responses of ``model`` away from every face: training photos turned, and scenes."""
    import torch

    from biogate.models.face_detect_any import decode_proposals, level_scales

    found: list[HardNegative] = []
    model.eval()
    rng = np.random.default_rng(len(sampler.hard))
    jobs: list[tuple[int, Any, float]] = []
    for i, photo in enumerate(sampler.photos):
        for angle in (0.0, 90.0, 180.0, 270.0, 30.0, -30.0):
            jobs.append((i, photo, angle))
    for i in range(len(sampler.scenes)):
        jobs.append((-1 - i, None, float(rng.uniform(0, 360))))
    import cv2

    for index, photo, angle in jobs:
        if photo is not None:
            turned = rotate_photo(photo, angle)
            image, faces, ignore = turned.image, turned.boxes, turned.ignore
        else:
            image, faces = sampler.scenes[-1 - index], np.zeros((0, 4), np.float32)
            ignore = np.zeros((0, 4), np.float32)
            angle = 0.0
        h, w = image.shape[:2]
        rows_all = []
        for scale in level_scales(h, w, 20.0)[:6]:
            level = cv2.resize(
                image, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA
            )
            level = level[: level.shape[0] // 4 * 4, : level.shape[1] // 4 * 4]
            with torch.no_grad():
                out = model(torch.from_numpy(level.astype(np.float32) / 255.0).permute(2, 0, 1)[None])[
                    0
                ].numpy()
            rows = decode_proposals(out, scale, threshold)
            if len(rows):
                rows_all.append(np.concatenate([rows, np.full((len(rows), 1), scale, np.float32)], 1))
        if not rows_all:
            continue
        rows = np.concatenate(rows_all)
        keep = []
        for r in rows[np.argsort(-rows[:, 4])]:
            if len(faces):
                c = (faces[:, :2] + faces[:, 2:]) / 2
                side = faces[:, 2] - faces[:, 0]
                if (np.hypot(c[:, 0] - r[0], c[:, 1] - r[1]) < 0.8 * np.maximum(side, r[2])).any():
                    continue
            if inside_regions(r[0], r[1], ignore):  # unlabelled faces may stand there: not a negative
                continue
            if any(np.hypot(r[0] - k[0], r[1] - k[1]) < r[2] for k in keep):
                continue
            keep.append(r)
            if len(keep) >= per_image:
                break
        for r in keep:
            if photo is not None:  # back to the upright photograph's coordinates
                from biogate.exporters.data.face_detect_data import rotation_matrix

                m, _ = rotation_matrix(photo.image.shape, angle)
                inv = cv2.invertAffineTransform(m)
                point = inv[:, :2] @ r[:2] + inv[:, 2]
            else:
                point = r[:2]
            found.append(HardNegative(index, angle, float(r[5]), (float(point[0]), float(point[1]))))
    model.train()
    return found


def set_warmup_cosine_lr(opt: Any, step: int, steps: int, base: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``steps``; set on ``opt``."""
    lr = base * 0.5 * (1 + np.cos(np.pi * step / steps)) if step > warmup else base * (step + 1) / warmup
    for group in opt.param_groups:
        group["lr"] = lr
    return float(lr)


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from biogate.exporters.nets.face_any import FaceAnyNet

    torch.manual_seed(args.seed)
    model = FaceAnyNet(args.width)
    if args.init is not None:  # start from earlier weights (a fresh schedule and optimiser)
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    ckpt_path = args.out.with_suffix(".ckpt")
    from biogate.exporters.data.face_detect_data import load_detect_photos

    photos = [p for p in load_detect_photos(held_out=False) if p.source not in set(args.exclude or ())]
    sampler = Sampler(seed=args.seed, size=args.canvas, photos=photos)
    state: dict[str, Any] = {"step": 0, "history": [], "seconds": 0.0, "mined": []}
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        state = ckpt["state"]
        sampler.hard = [HardNegative(*h) for h in state["mined"]]
        sampler.rng = np.random.default_rng(args.seed + state["step"])
        print(json.dumps({"resumed_at": state["step"], "hard": len(sampler.hard)}), flush=True)
    mine_at = {int(args.steps * 0.3), int(args.steps * 0.6)}
    started = time.time() - state["seconds"]
    model.train()

    def save() -> None:
        state["seconds"] = round(time.time() - started, 1)
        state["mined"] = [(h.photo, h.angle, h.scale, h.point) for h in sampler.hard]
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state}, ckpt_path)
        torch.save(model.state_dict(), args.out)

    while state["step"] < args.steps:
        step = state["step"]
        lr = set_warmup_cosine_lr(opt, step, args.steps, args.lr, warmup=200)
        if step in mine_at and step > 0:
            new = mine(model, sampler)
            sampler.hard += new
            print(json.dumps({"step": step, "mined": len(new), "hard": len(sampler.hard)}), flush=True)
        x, score, weight, reg = batch_tensors([sampler.sample() for _ in range(args.batch)])
        loss, parts = loss_fn(model(x), score, weight, reg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        state["step"] = step + 1
        if step % args.log_every == 0 or step == args.steps - 1:
            rec = {"step": step, "loss": round(float(loss), 4), **{k: round(v, 4) for k, v in parts.items()}}
            rec.update(lr=round(lr, 6), s=round(time.time() - started, 1))
            state["history"].append(rec)
            print(json.dumps(rec), flush=True)
        if state["step"] % args.save_every == 0:
            save()
    save()
    photos = sampler.photos
    return {
        "history": state["history"],
        "seconds": state["seconds"],
        "hard_negatives": len(sampler.hard),
        "data": {
            "photographs": len(photos),
            "faces": int(sum(len(p.boxes) for p in photos)),
            "sources": [p.source for p in photos],
            "lfw_faces": len(sampler.lfw),
            "scenes": len(sampler.scenes),
            "samples_seen": args.steps * args.batch,
        },
    }


def run_photo_training(parser: argparse.ArgumentParser, argv: list[str] | None, train_fn, module: str) -> int:
    """The photograph trainers' shared command line: adds ``--seed``, ``--threads``, ``--exclude``,
    parses, trains with ``train_fn(args)`` and writes its record (config and command added) beside
    ``args.out``; prints the record without its loss history."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--exclude", action="append", metavar="SOURCE", help="leave this training photograph out (repeatable)"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = train_fn(args)
    record["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    given = sys.argv[1:] if argv is None else argv
    record["command"] = f"python -m {module} " + " ".join(given)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    print(json.dumps({k: v for k, v in record.items() if k != "history"}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--canvas", type=int, default=64, help="sample side in pixels (multiple of 4)")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--init", type=Path, help="start from these weights (same --width)")
    return run_photo_training(parser, argv, train, "biogate.exporters.training.train_face_detect_any")


if __name__ == "__main__":
    raise SystemExit(main())
