"""Train the seed-002 face temperature detection model (spec §3), on generated or real data.

Steps, as the seed describes them:

1. **Pre-training (step 402)**: :class:`PretrainNet` (3×3×3 first layer) learns identity from RGB.
2. **Pruning (step 501)**: back-propagate on thermal crops (replicated to 3 channels), accumulate
   |∂L/∂W| per first-layer slice, keep the largest 1/3 → a 3×3×1 layer.
3. **Mixed training (steps 502/203)**: RGB and IR samples through their own primary extractors
   into the shared trunk, the RGB weight lowered round by round (0.5 → 0.4 → … → 0.0).

Generated data (default)::

    nice -n 10 python -m biogate.exporters.training.train_thermal --out exporters/weights

A real paired RGB/thermal dataset laid out as folders (see ``docs/thermal.md``)::

    nice -n 10 python -m biogate.exporters.training.train_thermal --data /path/to/dataset --out runs/thermal
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from biogate.errors import ConfigError
from biogate.exporters.nets.thermal import (
    PretrainNet,
    ThermalExport,
    ThermalFaceNet,
    accumulate_first_layer_gradients,
    prune_first_layer,
    rgb_weight_schedule,
)
from biogate.frame import Frame
from biogate.models.thermal import (
    CROP_SIZE,
    ThermalConfig,
    ThermalFace,
    canthus_estimate,
    crop_face,
    find_faces,
)
from biogate.sim.thermal import ThermalFaceGenerator

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


# ------------------------------------------------------------------------------------------ data
def square_box(box, grow: float = 1.15):
    """The square, slightly grown box around ``box`` (how RGB face crops are cut)."""
    x0, y0, x1, y1 = box
    side = grow * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def prepare_thermal(
    frame: Frame, blackbody=None, blackbody_c: float | None = None, fallback_box=None
) -> dict:
    """Run the SDK's measurement chain on one frame: crop, canthus reading and face box.

    The same functions run on the device, so training sees exactly the crops it will be served.
    """
    tf = ThermalFace(config=ThermalConfig(blackbody_roi=blackbody, blackbody_c=blackbody_c))
    celsius, _facts = tf.object_celsius(frame)
    boxes = find_faces(celsius, exclude=[blackbody] if blackbody else [])
    found = bool(boxes)
    box = boxes[0] if found else square_box(fallback_box, 1.0)
    canthus, _ = canthus_estimate(celsius, box)
    return {"crop": crop_face(celsius, box)[0], "canthus": canthus, "side": box[2] - box[0], "found": found}


def _generate_chunk(args) -> dict:
    seed, split, jobs, with_rgb = args
    gen = ThermalFaceGenerator(seed, split=split)
    out = {
        k: [] for k in ("ir", "ir_raw", "rgb", "identity", "capture", "core", "skin", "ambient", "distance")
    }
    out.update({k: [] for k in ("canthus", "canthus_raw", "side", "found")})
    for identity, index in jobs:
        s = gen.sample(identity, index, with_rgb=False)
        frame = Frame(s.frame_ck, "y16", 0, meta=dict(s.meta))
        bb = prepare_thermal(frame, s.blackbody_box, s.blackbody_set_c, s.face_box)
        raw = prepare_thermal(frame, None, None, s.face_box)
        if with_rgb:
            ident, cap = gen.identity(identity), gen.draw_capture(identity, index)
            out["rgb"].append(
                gen.render_rgb(ident, cap, window=square_box(s.face_box_rgb), size=(CROP_SIZE,) * 2)
            )
        out["ir"].append(bb["crop"])
        out["ir_raw"].append(raw["crop"])
        out["canthus"].append(bb["canthus"])
        out["canthus_raw"].append(raw["canthus"])
        out["side"].append(bb["side"])
        out["found"].append(bb["found"])
        out["identity"].append(identity)
        out["capture"].append(index)
        out["core"].append(s.core_c)
        out["skin"].append(s.skin_c)
        out["ambient"].append(s.ambient_c)
        out["distance"].append(s.distance_m)
    return out


def generate_set(
    seed: int,
    split: str,
    identities: range,
    captures: range,
    with_rgb: bool = True,
    workers: int = 2,
    cache: Path | None = None,
) -> dict[str, np.ndarray]:
    """Generated samples through the SDK chain, as arrays (cached on disk when ``cache`` is set)."""
    key = hashlib.sha1(repr((seed, split, identities, captures, with_rgb, 3)).encode()).hexdigest()[:16]
    path = cache / f"thermal_{split}_{key}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path) as data:
            return dict(data)
    jobs = [(i, c) for i in identities for c in captures]
    chunks = [(seed, split, jobs[k :: workers * 4], with_rgb) for k in range(workers * 4)]
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_generate_chunk, chunks)
    else:
        parts = [_generate_chunk(c) for c in chunks]
    keys = [k for k in parts[0] if parts[0][k]]
    data = {k: np.asarray([v for p in parts for v in p[k]]) for k in keys}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **data)
    return data


def load_folder_dataset(root: Path, blackbody=None, blackbody_c: float | None = None) -> tuple[dict, dict]:
    """A real paired dataset laid out as folders (see docs/thermal.md).

    ``root/rgb/<identity>/*.png|jpg`` (face crops or frames with one face), ``root/thermal/
    <identity>/*.png`` (16-bit centi-kelvin) or ``*.npy`` (°C), and ``root/thermal/labels.csv``
    with columns ``file,core_c[,ambient_c]`` (file relative to ``root/thermal``).
    """
    labels_path = root / "thermal" / "labels.csv"
    if not labels_path.exists():
        raise ConfigError(f"dataset {root}: missing {labels_path} (columns file,core_c[,ambient_c])")
    names = sorted(p.name for p in (root / "thermal").iterdir() if p.is_dir())
    index = {n: i for i, n in enumerate(names)}
    ir = {k: [] for k in ("ir", "identity", "core", "ambient", "canthus", "side", "found")}
    with labels_path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            path = root / "thermal" / row["file"]
            if not path.is_file():
                raise ConfigError(f"{labels_path}: listed file {path} does not exist")
            if path.suffix == ".npy":
                frame = Frame(np.load(path).astype(np.float32), "celsius32", 0)
            else:
                img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
                if img is None or img.dtype != np.uint16:
                    raise ConfigError(f"{path}: need a 16-bit centi-kelvin PNG or a .npy °C array")
                frame = Frame(img, "y16", 0)
            ambient = float(row.get("ambient_c") or 22.0)
            frame.meta["ambient_c"] = ambient
            h, w = frame.image.shape[:2]
            prep = prepare_thermal(frame, blackbody, blackbody_c, (0, 0, w, h))
            ir["ir"].append(prep["crop"])
            person = Path(row["file"]).parts[0]
            if person not in index:
                raise ConfigError(
                    f"{labels_path}: {row['file']!r} is not under a person folder of {root / 'thermal'}"
                )
            ir["identity"].append(index[person])
            ir["core"].append(float(row["core_c"]))
            ir["ambient"].append(ambient)
            ir["canthus"].append(prep["canthus"])
            ir["side"].append(prep["side"])
            ir["found"].append(prep["found"])
    rgb = {"rgb": [], "identity": []}
    for name in names:
        for path in sorted((root / "rgb" / name).glob("*")):
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                continue
            rgb["rgb"].append(
                cv2.resize(
                    cv2.cvtColor(img, cv2.COLOR_BGR2RGB), (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA
                )
            )
            rgb["identity"].append(index[name])
    return {k: np.asarray(v) for k, v in ir.items()}, {k: np.asarray(v) for k, v in rgb.items()}


# -------------------------------------------------------------------------------------- training
@dataclass
class TrainConfig:
    """Hyper-parameters (the seed gives none; these are this project's choices)."""

    pretrain_epochs: int = 8
    epochs_per_round: int = 2
    rgb_start: float = 0.5
    rgb_step: float = 0.1
    rgb_end: float = 0.0
    weight_mode: str = "both"  # "proportion", "coefficient" or "both" (spec §6 row 14)
    batch: int = 64
    lr: float = 2e-3
    temp_loss_weight: float = 2.0
    ir_identity_weight: float = 1.0
    prune_batches: int = 16
    threads: int = 1
    seed: int = 0


def _rgb_tensor(rgb: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 127.5) - 1.0


def _flip(x: torch.Tensor) -> torch.Tensor:
    """Random horizontal flip per sample (faces are near-symmetric; doubles the poses)."""
    mask = torch.rand(x.shape[0]) < 0.5
    x = x.clone()
    x[mask] = x[mask].flip(-1)
    return x


def pretrain(rgb: np.ndarray, ids: np.ndarray, n_ids: int, cfg: TrainConfig, log=print) -> PretrainNet:
    """Step 402: train the 3×3×3 pre-training model on RGB faces for identity."""
    net = PretrainNet(n_ids)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=5e-4)
    steps = cfg.pretrain_epochs * max(len(ids) // cfg.batch, 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps)
    x_all, y_all = _rgb_tensor(rgb), torch.from_numpy(ids).long()
    net.train()
    for epoch in range(cfg.pretrain_epochs):
        perm, total = torch.randperm(len(ids)), 0.0
        for k in range(len(ids) // cfg.batch):
            idx = perm[k * cfg.batch : (k + 1) * cfg.batch]
            loss = F.cross_entropy(net.classifier(net(_flip(x_all[idx])), y_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log(
            f"pretrain epoch {epoch + 1}/{cfg.pretrain_epochs}: "
            f"identity loss {total / max(len(ids) // cfg.batch, 1):.3f}"
        )
    return net


def prune(pre: PretrainNet, ir: np.ndarray, ids: np.ndarray, cfg: TrainConfig):
    """Step 501: accumulate |∂L/∂W| of the first layer on thermal crops, keep the largest 1/3."""
    rng = np.random.default_rng(cfg.seed)

    def batches():
        for _ in range(cfg.prune_batches):
            idx = rng.choice(len(ids), min(cfg.batch, len(ids)), replace=False)
            yield torch.from_numpy(ir[idx]), torch.from_numpy(ids[idx]).long()  # one channel at a time

    def loss_fn(model, x, y):
        return F.cross_entropy(model.classifier(model(x), y), y)

    pre.eval()  # BN statistics stay those of RGB: the gradients measure the RGB-trained slices
    grads = accumulate_first_layer_gradients(pre, batches(), loss_fn)
    pruned, keep = prune_first_layer(pre.first, grads)
    return pruned, keep, grads


def train_rounds(
    net: ThermalFaceNet, ir_set: dict, rgb_set: dict, weights: list[float], cfg: TrainConfig, log=print
):
    """Steps 502/203: one or more epochs per RGB weight, the weight lowered round by round."""
    if cfg.weight_mode not in ("proportion", "coefficient", "both"):
        raise ConfigError(f"weight_mode must be proportion, coefficient or both, got {cfg.weight_mode!r}")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=5e-4)
    per_epoch = max(len(ir_set["identity"]) // cfg.batch, 1)
    total = len(weights) * cfg.epochs_per_round * per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=total, pct_start=0.15)
    ir_x, ir_y = torch.from_numpy(ir_set["ir"]), torch.from_numpy(ir_set["identity"]).long()
    ir_t = torch.from_numpy(ir_set["core"]).float()
    rgb_x = _rgb_tensor(rgb_set["rgb"]) if len(rgb_set.get("identity", [])) else None
    rgb_y = torch.from_numpy(rgb_set["identity"]).long() if rgb_x is not None else None
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    net.train()
    for w in weights:
        for epoch in range(cfg.epochs_per_round):
            sums = np.zeros(3)
            for _ in range(per_epoch):
                n_rgb = 0
                if rgb_x is not None and w > 0:
                    n_rgb = (
                        int(torch.binomial(torch.tensor(float(cfg.batch)), torch.tensor(w), generator=gen))
                        if cfg.weight_mode != "coefficient"
                        else cfg.batch // 2
                    )
                n_ir = cfg.batch - n_rgb
                idx = torch.randint(len(ir_y), (n_ir,), generator=gen)
                emb, temp = net.forward_ir(_flip(ir_x[idx]))
                l_id_ir = F.cross_entropy(net.classifier(emb, ir_y[idx]), ir_y[idx])
                l_t = F.smooth_l1_loss(temp, ir_t[idx], beta=0.2)
                loss_ir = cfg.temp_loss_weight * l_t + cfg.ir_identity_weight * l_id_ir
                l_rgb = torch.zeros(())
                if n_rgb > 1:
                    ridx = torch.randint(len(rgb_y), (n_rgb,), generator=gen)
                    l_rgb = F.cross_entropy(
                        net.classifier(net.forward_rgb(_flip(rgb_x[ridx])), rgb_y[ridx]), rgb_y[ridx]
                    )
                if cfg.weight_mode == "proportion":
                    loss = (n_rgb * l_rgb + n_ir * loss_ir) / cfg.batch
                else:
                    loss = w * l_rgb + (1.0 - w) * loss_ir
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                sums += (l_rgb.item(), l_t.item(), l_id_ir.item())
            sums /= per_epoch
            history.append(
                {"rgb_weight": w, "epoch": epoch, "l_id_rgb": sums[0], "l_temp": sums[1], "l_id_ir": sums[2]}
            )
            log(
                f"round w_rgb={w:.2f} epoch {epoch + 1}: "
                f"L_id(rgb) {sums[0]:.3f}  L_T {sums[1]:.3f}  L_id(ir) {sums[2]:.3f}"
            )
    net.eval()
    return history


@torch.no_grad()
def predict(model: torch.nn.Module, crops: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, temperatures) of normalised thermal crops through the export module."""
    model.eval()
    embs, temps = [], []
    for k in range(0, len(crops), batch):
        e, t = model(torch.from_numpy(np.ascontiguousarray(crops[k : k + batch])))
        embs.append(e.numpy())
        temps.append(t.numpy().reshape(-1))
    return np.concatenate(embs), np.concatenate(temps)


def fit_canthus(data: dict) -> dict[str, float]:
    """Least-squares core − canthus = a + b·(ambient − 22) + c·(100 / side): the model-free calibration."""
    design = np.stack([np.ones(len(data["core"])), data["ambient"] - 22.0, 100.0 / data["side"]], 1)
    coef, *_ = np.linalg.lstsq(design, data["core"] - data["canthus"], rcond=None)
    return {
        "canthus_offset_c": float(coef[0]),
        "canthus_ambient_per_c": float(coef[1]),
        "canthus_per_inv_side": float(coef[2]),
    }


def canthus_core(data: dict, cal: dict, key: str = "canthus") -> np.ndarray:
    return (
        data[key]
        + cal["canthus_offset_c"]
        + cal["canthus_ambient_per_c"] * (data["ambient"] - 22.0)
        + cal["canthus_per_inv_side"] * (100.0 / data["side"])
    )


def save_weights(path: Path, net: ThermalFaceNet, meta: dict) -> None:
    """The export module's weights (half precision halves the file; loaded back as float32) + metadata."""
    state = {
        k: (v.half() if v.is_floating_point() else v) for k, v in ThermalExport(net).state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "n_identities": net.classifier.weight.shape[0], **meta}, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=float))


def load_export(path: Path) -> tuple[ThermalExport, dict]:
    """The shipped model (eval mode, float32) and its metadata."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = ThermalExport(ThermalFaceNet(int(blob["n_identities"])))
    model.load_state_dict(
        {k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()}
    )
    return model.eval(), blob


def run(args: argparse.Namespace) -> dict:
    """The whole recipe: data, pre-training, pruning, scheduled rounds, and the IR-only ablation."""
    torch.set_num_threads(min(args.threads, 2))
    torch.manual_seed(args.seed)
    cfg = TrainConfig(
        pretrain_epochs=args.pretrain_epochs,
        epochs_per_round=args.epochs_per_round,
        rgb_start=args.rgb_start,
        rgb_step=args.rgb_step,
        rgb_end=args.rgb_end,
        weight_mode=args.weight_mode,
        threads=args.threads,
        seed=args.seed,
    )
    t0 = time.time()
    cache = Path(args.cache) if args.cache else None
    if args.data:
        bb = tuple(int(v) for v in args.blackbody_roi.split(",")) if args.blackbody_roi else None
        ir_all, rgb_set = load_folder_dataset(Path(args.data), bb, args.blackbody_c)
        val = np.arange(len(ir_all["core"])) % 8 == 0
    else:
        ir_all = generate_set(
            args.seed, "train", range(args.identities), range(args.captures), True, args.workers, cache
        )
        rgb_set = {"rgb": ir_all["rgb"], "identity": ir_all["identity"]}
        val = ir_all["capture"] >= args.captures - 4
    ir_set = {
        k: v[~val] for k, v in ir_all.items() if k in ("ir", "identity", "core", "ambient", "canthus", "side")
    }
    val_set = {
        k: v[val] for k, v in ir_all.items() if k in ("ir", "identity", "core", "ambient", "canthus", "side")
    }
    n_ids = int(ir_all["identity"].max()) + 1
    print(
        f"data: {len(ir_set['core'])} thermal + {len(rgb_set['identity'])} RGB samples, "
        f"{n_ids} identities ({time.time() - t0:.0f} s)"
    )
    weights = rgb_weight_schedule(cfg.rgb_start, cfg.rgb_step, cfg.rgb_end)
    pre = pretrain(rgb_set["rgb"], rgb_set["identity"], n_ids, cfg)
    _pruned, keep, grads = prune(pre, ir_set["ir"], ir_set["identity"], cfg)
    print(f"pruned first layer: kept channel per filter {keep.tolist()} ({time.time() - t0:.0f} s)")
    results = {}
    variants = [("thermal_face", weights)] + (
        [("thermal_face_ir_only", [0.0] * len(weights))] if args.ablation else []
    )
    cal = fit_canthus(ir_set)
    for name, sched in variants:
        torch.manual_seed(args.seed)
        net = ThermalFaceNet.from_pretrained(pre, pruned_first=prune_first_layer(pre.first, grads)[0])
        history = train_rounds(net, ir_set, rgb_set, sched, cfg)
        export = ThermalExport(net).eval()
        _, t_val = predict(export, val_set["ir"])
        resid_model = t_val - val_set["core"]
        resid_canthus = canthus_core(val_set, cal) - val_set["core"]
        logits = predict_logits(net, val_set["ir"])
        metrics = {
            "val_temp_mae_c": float(np.abs(resid_model).mean()),
            "val_canthus_mae_c": float(np.abs(resid_canthus).mean()),
            "val_id_top1_closed_set": float((logits.argmax(1) == val_set["identity"]).mean()),
            "train_seconds": time.time() - t0,
        }
        calibration = dict(
            cal, model_sigma_c=float(resid_model.std()), canthus_sigma_c=float(resid_canthus.std())
        )
        meta = {
            "schedule": sched,
            "train_config": asdict(cfg),
            "calibration": calibration,
            "metrics": metrics,
            "history": history,
            "kept_channels": keep.tolist(),
            "data": args.data
            or f"generated: seed {args.seed}, {n_ids} identities x {args.captures} captures (train split)",
        }
        save_weights(Path(args.out) / f"{name}.pt", net, meta)
        results[name] = {"metrics": metrics, "calibration": calibration}
        print(f"{name}: {json.dumps(metrics)}")
    return results


@torch.no_grad()
def predict_logits(net: ThermalFaceNet, crops: np.ndarray) -> np.ndarray:
    net.eval()
    emb, _ = net.forward_ir(torch.from_numpy(crops))
    return net.classifier(emb).numpy()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(WEIGHTS), help="where thermal_face*.pt go")
    p.add_argument("--data", help="real paired dataset root (rgb/<id>/, thermal/<id>/, thermal/labels.csv)")
    p.add_argument("--blackbody-roi", help="x,y,w,h of the in-scene reference in the thermal files")
    p.add_argument("--blackbody-c", type=float, help="its set point (°C)")
    p.add_argument("--identities", type=int, default=80)
    p.add_argument("--captures", type=int, default=30)
    p.add_argument("--pretrain-epochs", type=int, default=8)
    p.add_argument("--epochs-per-round", type=int, default=2)
    p.add_argument("--rgb-start", type=float, default=0.5)
    p.add_argument("--rgb-step", type=float, default=0.1)
    p.add_argument("--rgb-end", type=float, default=0.0)
    p.add_argument("--weight-mode", default="both", choices=["proportion", "coefficient", "both"])
    p.add_argument("--no-ablation", dest="ablation", action="store_false", help="skip the IR-only variant")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core box)"
    )
    p.add_argument("--workers", type=int, default=2, help="processes generating data")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "biogate" / "thermal"))
    p.add_argument("--seed", type=int, default=0)
    run(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
