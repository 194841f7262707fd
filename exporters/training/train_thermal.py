"""Train the seed-002 face temperature detection model (spec §3), on generated or real data.

Steps, as the seed describes them:

1. **Pre-training (step 402)**: :class:`PretrainNet` (3×3×3 first layer) learns identity from RGB.
2. **Pruning (step 501)**: back-propagate on thermal crops (replicated to 3 channels), accumulate
   |∂L/∂W| per first-layer slice, keep the largest 1/3 → a 3×3×1 layer.
3. **Mixed training (steps 502/203)**: RGB and IR samples through their own primary extractors
   into the shared trunk, the RGB weight lowered round by round (0.5 → 0.4 → … → 0.0).

Trained by ``biogate train thermal_face`` (:mod:`biogate.exporters.training.tasks.thermal_face`),
on generated data or a real radiometric dataset laid out as folders (see ``docs/thermal.md``)::

    nice -n 10 biogate train thermal_face --data thermal-sim --out runs/thermal
    nice -n 10 biogate train thermal_face --data thermal:/path/to/dataset --out runs/thermal
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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
    """A real paired dataset laid out as folders (``thermal:DIR``, see docs/training.md).

    ``root/thermal/<identity>/*.png`` (16-bit centi-kelvin) or ``*.npy`` (°C) with
    ``root/thermal/labels.csv`` (``file,core_c[,ambient_c]``), optional ``root/rgb/<identity>/``.
    Returns ``(thermal crops and labels, RGB crops)`` with identity indices over the thermal persons.
    """
    from biogate.exporters.data.layouts import parse

    data = parse(f"thermal:{root}", ("thermal",))
    names = data.identities
    return thermal_arrays(data, names, blackbody, blackbody_c), rgb_arrays(data, names)


def thermal_arrays(data, names: list[str], blackbody=None, blackbody_c: float | None = None) -> dict:
    """Every frame of a ``thermal`` layout (part) through the SDK's measurement chain, as arrays."""
    from biogate.exporters.data.layouts.thermal import read_frame

    index = {n: i for i, n in enumerate(names)}
    bb = data.extra.get("blackbody") or {}
    blackbody = blackbody or bb.get("roi")
    blackbody_c = blackbody_c if blackbody_c is not None else bb.get("set_c")
    ir: dict[str, list] = {
        k: [] for k in ("ir", "identity", "capture", "core", "ambient", "canthus", "side", "found")
    }
    seen: dict[str, int] = {}
    for item in data.items:
        image, fmt = read_frame(data.path(item))
        frame = Frame(image, fmt, 0, meta={"ambient_c": item.label["ambient_c"]})
        h, w = image.shape[:2]
        prep = prepare_thermal(frame, blackbody, blackbody_c, (0, 0, w, h))
        ir["ir"].append(prep["crop"])
        ir["identity"].append(index[item.identity])
        ir["capture"].append(seen.get(item.identity, 0))
        seen[item.identity] = seen.get(item.identity, 0) + 1
        ir["core"].append(item.label["core_c"])
        ir["ambient"].append(item.label["ambient_c"])
        ir["canthus"].append(prep["canthus"])
        ir["side"].append(prep["side"])
        ir["found"].append(prep["found"])
    return {k: np.asarray(v) for k, v in ir.items()}


def rgb_arrays(data, names: list[str]) -> dict:
    """The paired RGB face images of a ``thermal`` layout of the persons ``names``, as 64×64 crops."""
    from biogate.exporters.data.layouts.base import read_rgb

    index = {n: i for i, n in enumerate(names)}
    rgb: dict[str, list] = {"rgb": [], "identity": []}
    for item in data.extra.get("rgb", []):
        if item.identity in index:
            img = read_rgb(data.root / item.key)
            rgb["rgb"].append(cv2.resize(img, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA))
            rgb["identity"].append(index[item.identity])
    return {
        "rgb": np.asarray(rgb["rgb"], np.uint8).reshape(-1, CROP_SIZE, CROP_SIZE, 3),
        "identity": np.asarray(rgb["identity"], np.int64),
    }


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


def pretrain_loss(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Step 402's objective: large-margin identity classification of RGB faces."""
    return F.cross_entropy(net.classifier(net(x), y), y)


def mixed_loss(
    net: ThermalFaceNet,
    ir: torch.Tensor,
    ir_y: torch.Tensor,
    ir_t: torch.Tensor,
    rgb: tuple[torch.Tensor, torch.Tensor] | None,
    w: float,
    batch: int,
    cfg: TrainConfig,
) -> tuple[torch.Tensor, tuple[float, float, float]]:
    """Steps 502/203 on one batch: thermal identity + temperature, RGB identity weighted by ``w``.

    ``rgb`` is ``(images, identities)`` or None (no RGB in this batch); ``batch`` = thermal + RGB
    samples. ``weight_mode`` "proportion" weighs each part by its share of the batch, "coefficient"
    and "both" by ``w`` and ``1 − w`` (spec §6 row 14). Returns the loss and its (RGB id, temperature,
    thermal id) parts.
    """
    emb, temp = net.forward_ir(ir)
    l_id_ir = F.cross_entropy(net.classifier(emb, ir_y), ir_y)
    l_t = F.smooth_l1_loss(temp.float(), ir_t.float(), beta=0.2)
    loss_ir = cfg.temp_loss_weight * l_t + cfg.ir_identity_weight * l_id_ir
    l_rgb = loss_ir.new_zeros(())
    n_rgb = 0 if rgb is None else len(rgb[1])
    if n_rgb > 1:  # BatchNorm needs two samples
        l_rgb = F.cross_entropy(net.classifier(net.forward_rgb(rgb[0]), rgb[1]), rgb[1])
    if cfg.weight_mode == "proportion":
        loss = (n_rgb * l_rgb + len(ir_y) * loss_ir) / batch
    else:
        loss = w * l_rgb + (1.0 - w) * loss_ir
    return loss, (float(l_rgb.detach()), float(l_t.detach()), float(l_id_ir.detach()))


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
            loss = pretrain_loss(net, _flip(x_all[idx]), y_all[idx])
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

    pre.eval()  # BN statistics stay those of RGB: the gradients measure the RGB-trained slices
    grads = accumulate_first_layer_gradients(pre, batches(), pretrain_loss)
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
                rgb = None
                if n_rgb > 1:
                    ridx = torch.randint(len(rgb_y), (n_rgb,), generator=gen)
                    rgb = (_flip(rgb_x[ridx]), rgb_y[ridx])
                loss, (l_rgb, l_t, l_id_ir) = mixed_loss(
                    net, _flip(ir_x[idx]), ir_y[idx], ir_t[idx], rgb, w, cfg.batch, cfg
                )
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                sums += (l_rgb, l_t, l_id_ir)
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


@torch.no_grad()
def predict_logits(net: ThermalFaceNet, crops: np.ndarray) -> np.ndarray:
    net.eval()
    emb, _ = net.forward_ir(torch.from_numpy(crops))
    return net.classifier(emb).numpy()
