"""Dual-channel super-resolution network of seed 000 (spec §2.2, shape trace §2.2.4, choices §6).

Layer names follow the spec's tables so the shape trace reads against them:

* dual-channel module — upper channel U1 (two 1x1 convs 3→w→w), U2 (reshape each channel to
  patches of ``p²``), U3 (dictionary ``Dᵀ``: ``p²`` → atoms), U4 (FC atoms → ``p²``, shared by all
  channels), U5 (reshape back); lower channel L1 (two 3x3 convs 3→w→w); F1 element-wise sum;
* feature processing — P1 (3x3 conv), P2 (N Dense modules chained), P3 (concat), P4 (1x1 reduction),
  P5 (global residual P1 + P4);
* post-processing — Q1 (two 3x3 smoothing convs), Q2 (sub-pixel upsampler).

With ``dict_patch == in_size`` (the faithful configuration: 64x64 input, ``p² = 4096``, 6144
atoms) U2 is exactly the spec's per-channel ``1 x n²`` reshape.  A smaller ``dict_patch`` applies
the same dictionary to every non-overlapping ``p x p`` patch of each channel: the edge
configuration's way to keep the dictionary channel cheap.  Training-only auxiliary heads (1x1
conv + pixel shuffle after each Dense module) are used by :meth:`DualChannelSR.forward_train`;
:meth:`forward` (and so the exported graph) never touches them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from biogate.errors import ConfigError

Trace = list[tuple[str, tuple[int, ...]]]


@dataclass(frozen=True)
class DualSRConfig:
    """Every size of the network; :data:`FAITHFUL` and :data:`EDGE` are the two shipped settings."""

    in_size: int = 64  # nominal input side (the dictionary patch must divide the run-time size)
    scale: int = 2  # sub-pixel upscale factor r
    width: int = 64  # feature channels (64 kernels in the spec's example)
    dict_atoms: int = 6144
    dict_patch: int = 64  # p: dictionary signals are p x p patches of each feature channel
    n_dense: int = 3
    dense_depth: int = 4  # 3x3 convs (and concats) per Dense module
    growth: int = 32
    local_residual: bool = False  # not in the spec; off by default (§6 #9)
    fc_relu: bool = False  # optional ReLU after the FC layer (§6 #6)
    dict_trainable: bool = False  # dictionary frozen by default (§6 #4)
    upsampler: str = "conv"  # "conv": Q1 → 3 ch, Conv3x3(3→3r²)+shuffle (§6 #2); "direct": Q1 → 3r² ch
    image_skip: bool = False  # add the bicubic upscale of the input to the output (residual learning)

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4):
            raise ConfigError(f"scale must be 2, 3 or 4, got {self.scale}")
        if self.in_size % self.dict_patch:
            raise ConfigError(f"dict_patch {self.dict_patch} must divide in_size {self.in_size}")
        if self.upsampler not in ("conv", "direct"):
            raise ConfigError(f"upsampler must be 'conv' or 'direct', got {self.upsampler!r}")
        if self.n_dense < 2:
            raise ConfigError(f"the spec asks for N > 1 Dense modules, got {self.n_dense}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: The seed's sizes (64x64 input, 4096x6144 dictionary, width 64, N=3, 4 convs, growth 32).
FAITHFUL = DualSRConfig()
#: Real-time configuration (see docs/sr.md for the latency it reaches).
EDGE = DualSRConfig(
    width=16,
    dict_atoms=128,
    dict_patch=8,
    n_dense=3,
    dense_depth=3,
    growth=8,
    upsampler="direct",
    image_skip=True,
)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=True)


class DenseModule(nn.Module):
    """RDB-style dense block: ``depth`` x (3x3 conv → ReLU → concat with all before), then 1x1 fusion."""

    def __init__(self, width: int, depth: int, growth: int, local_residual: bool = False) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_conv(width + i * growth, growth, 3) for i in range(depth))
        self.fuse = _conv(width + depth * growth, width, 1)
        self.local_residual = local_residual

    def forward(self, x: torch.Tensor, trace: Trace | None = None, name: str = "dense") -> torch.Tensor:
        feats = x
        for i, conv in enumerate(self.convs):
            y = F.relu(conv(feats))
            feats = torch.cat([feats, y], dim=1)
            if trace is not None:
                trace += [
                    (f"{name}.conv{i + 1}", tuple(y.shape)),
                    (f"{name}.concat{i + 1}", tuple(feats.shape)),
                ]
        out = self.fuse(feats)
        if trace is not None:
            trace.append((f"{name}.fuse1x1", tuple(out.shape)))
        return out + x if self.local_residual else out


class DictionaryChannel(nn.Module):
    """U2–U5: per-channel patches → ``Dᵀ`` (frozen K-SVD dictionary) → shared FC → patches back."""

    def __init__(
        self, dictionary: torch.Tensor, patch: int, trainable: bool = False, fc_relu: bool = False
    ) -> None:
        super().__init__()
        dim, atoms = dictionary.shape
        if dim != patch * patch:
            raise ConfigError(
                f"dictionary has {dim}-d atoms, but patches of {patch}x{patch} need {patch * patch}"
            )
        self.patch = patch
        # Stored as Dᵀ-ready (dim, atoms); frozen unless fine-tuning is asked for (§6 #4).
        self.dictionary = nn.Parameter(dictionary.clone().float(), requires_grad=trainable)
        self.fc = nn.Linear(atoms, dim)
        with torch.no_grad():  # start as the frame-operator inverse: D (Dᵀx) * dim/atoms ≈ x
            self.fc.weight.copy_(self.dictionary * (dim / atoms))
            self.fc.bias.zero_()
        self.fc_relu = fc_relu

    def forward(self, x: torch.Tensor, trace: Trace | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.patch
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 3, 5).reshape(b, c, -1, p * p)
        codes = patches @ self.dictionary  # (b, c, patches, atoms)
        y = self.fc(codes)
        if self.fc_relu:
            y = F.relu(y)
        out = y.reshape(b, c, h // p, w // p, p, p).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w)
        if trace is not None:
            trace += [("U2.reshape", tuple(patches.shape)), ("U3.dictionary", tuple(codes.shape))]
            trace += [("U4.fc", tuple(y.shape)), ("U5.reshape", tuple(out.shape))]
        return out


def random_dictionary(dim: int, atoms: int, seed: int = 0) -> torch.Tensor:
    """Unit-norm random atoms: a placeholder for shape tests and for training before K-SVD ran."""
    d = np.random.default_rng(seed).standard_normal((dim, atoms)).astype(np.float32)
    return torch.from_numpy(d / np.linalg.norm(d, axis=0, keepdims=True))


class DualChannelSR(nn.Module):
    """The dual-channel SR net: ``(N, 3, H, W)`` RGB in [0, 1] → ``(N, 3, rH, rW)``."""

    def __init__(
        self, cfg: DualSRConfig = FAITHFUL, dictionary: torch.Tensor | None = None, aux_heads: bool = True
    ) -> None:
        super().__init__()
        self.cfg = cfg
        w, r = cfg.width, cfg.scale
        if dictionary is None:
            dictionary = random_dictionary(cfg.dict_patch**2, cfg.dict_atoms)
        if tuple(dictionary.shape) != (cfg.dict_patch**2, cfg.dict_atoms):
            raise ConfigError(
                f"dictionary {tuple(dictionary.shape)} != config ({cfg.dict_patch**2}, {cfg.dict_atoms})"
            )
        self.upper_convs = nn.ModuleList([_conv(3, w, 1), _conv(w, w, 1)])  # U1
        self.dictionary = DictionaryChannel(dictionary, cfg.dict_patch, cfg.dict_trainable, cfg.fc_relu)
        self.lower_convs = nn.ModuleList([_conv(3, w, 3), _conv(w, w, 3)])  # L1
        self.conv3 = _conv(w, w, 3)  # P1
        self.dense = nn.ModuleList(
            DenseModule(w, cfg.dense_depth, cfg.growth, cfg.local_residual) for _ in range(cfg.n_dense)
        )  # P2
        self.conv4 = _conv(cfg.n_dense * w, w, 1)  # P4
        q_out = 3 if cfg.upsampler == "conv" else 3 * r * r
        self.smooth = nn.ModuleList([_conv(w, w, 3), _conv(w, q_out, 3)])  # Q1
        self.subpixel_conv = _conv(3, 3 * r * r, 3) if cfg.upsampler == "conv" else None  # Q2
        self.shuffle = nn.PixelShuffle(r)
        # Training-only auxiliary heads after every Dense module (spec §3.1).
        self.aux = nn.ModuleList(_conv(w, 3 * r * r, 1) for _ in range(cfg.n_dense)) if aux_heads else None
        if cfg.image_skip:
            # With the bicubic skip, zero-initialised output layers make the untrained net exactly
            # bicubic, so training only ever has to learn the residual detail.
            last = [self.smooth[1] if self.subpixel_conv is None else self.subpixel_conv, *(self.aux or [])]
            for conv in last:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def _skip(self, x: torch.Tensor) -> torch.Tensor | None:
        if not self.cfg.image_skip:
            return None
        return F.interpolate(x, scale_factor=self.cfg.scale, mode="bicubic", align_corners=False)

    def _features(self, x: torch.Tensor, trace: Trace | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        p = self.cfg.dict_patch
        if not torch.jit.is_tracing() and (x.shape[-1] % p or x.shape[-2] % p):
            raise ConfigError(f"input {tuple(x.shape[-2:])} is not a multiple of the dictionary patch {p}")
        u = x
        for i, conv in enumerate(self.upper_convs):
            u = F.relu(conv(u))
            if trace is not None:
                trace.append((f"U1.conv1x1_{i + 1}", tuple(u.shape)))
        u = self.dictionary(u, trace)
        low = x
        for i, conv in enumerate(self.lower_convs):
            low = F.relu(conv(low))
            if trace is not None:
                trace.append((f"L1.conv3x3_{i + 1}", tuple(low.shape)))
        fused = u + low
        f5 = F.relu(self.conv3(fused))
        if trace is not None:
            trace += [("F1.add", tuple(fused.shape)), ("P1.conv3x3", tuple(f5.shape))]
        sixth, h = [], f5
        for k, block in enumerate(self.dense):
            h = block(h, trace, name=f"P2.dense{k + 1}")
            sixth.append(h)
        cat = torch.cat(sixth, dim=1)
        f8 = self.conv4(cat)
        second = f5 + f8
        if trace is not None:
            trace += [
                ("P3.concat", tuple(cat.shape)),
                ("P4.conv1x1", tuple(f8.shape)),
                ("P5.residual", tuple(second.shape)),
            ]
        return second, sixth

    def _reconstruct(
        self, second: torch.Tensor, skip: torch.Tensor | None, trace: Trace | None
    ) -> torch.Tensor:
        q1 = F.relu(self.smooth[0](second))
        q = self.smooth[1](q1)
        if trace is not None:
            trace += [("Q1.conv3x3_1", tuple(q1.shape)), ("Q1.conv3x3_2", tuple(q.shape))]
        if self.subpixel_conv is not None:
            q = self.subpixel_conv(q)
            if trace is not None:
                trace.append(("Q2.conv3x3", tuple(q.shape)))
        out = self.shuffle(q)
        if trace is not None:
            trace.append(("Q2.pixel_shuffle", tuple(out.shape)))
        return out if skip is None else out + skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inference graph (no auxiliary heads)."""
        second, _ = self._features(x, None)
        return self._reconstruct(second, self._skip(x), None)

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(main, [aux_1 … aux_N])``: every output at ``r x`` resolution, for the multi-loss."""
        if self.aux is None:
            raise ConfigError("this DualChannelSR was built without auxiliary heads")
        skip = self._skip(x)
        second, sixth = self._features(x, None)
        aux = [self.shuffle(head(h)) for head, h in zip(self.aux, sixth)]
        if skip is not None:
            aux = [a + skip for a in aux]
        return self._reconstruct(second, skip, None), aux

    def trace(self, x: torch.Tensor) -> Trace:
        """Every layer's output shape, named as in the spec's tables (works on ``meta`` tensors)."""
        trace: Trace = [("input", tuple(x.shape))]
        second, _ = self._features(x, trace)
        self._reconstruct(second, None, trace)
        return trace

    def without_aux(self) -> DualChannelSR:
        """A copy for export: same weights, auxiliary heads dropped."""
        net = DualChannelSR(self.cfg, self.dictionary.dictionary.detach(), aux_heads=False)
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("aux.")}
        net.load_state_dict(state)
        return net.eval()


def config_from_json(data: dict[str, Any]) -> DualSRConfig:
    """Inverse of :meth:`DualSRConfig.to_json` (unknown keys are an error)."""
    return replace(DualSRConfig(), **data)


def count_parameters(net: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)
