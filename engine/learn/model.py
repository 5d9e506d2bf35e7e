"""The image tower (a compact CNN for drawings, scans and photos) and the momentum copy used to
fill the negative queue (the text side is adapted by fine-tuning the text tower: text_tower.py).

ImageTower: grayscale (batch, 1, H, W) input, already normalised per the pack manifest ((x - mean) /
std on [0, 1] pixels, letterboxed onto white so the page keeps its aspect ratio). A MobileNetV3-style
stack of inverted residual blocks (depthwise 3x3, squeeze-excite, hard-swish) downsamples by 32, so a
384x384 page gives a 12x12 grid of patch features. A per-patch MLP head maps every patch into the text
encoder's 384-d space; the image embedding is the L2-normalised mean of the patch embeddings, so the
patches are directly comparable with it (similarity heatmaps) and with text embeddings.

Torch only; nothing here is imported at run time (the runtime uses the ONNX export).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class TowerConfig:
    dim: int = 384  # the text encoder's space (all-MiniLM-L6-v2)
    in_channels: int = 1
    width: float = 1.0  # channel multiplier
    head_hidden: int = 768
    dropout: float = 0.0
    # (expand ratio, out channels, stride, squeeze-excite) per block
    blocks: tuple[tuple[int, int, int, bool], ...] = (
        (1, 16, 2, True),  # /4
        (4, 24, 2, False),  # /8
        (3, 24, 1, False),
        (4, 40, 2, True),  # /16
        (3, 40, 1, True),
        (3, 48, 1, True),
        (4, 96, 2, True),  # /32
        (4, 96, 1, True),
        (4, 96, 1, True),
    )
    feature_channels: int = 384

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TowerConfig":
        d = dict(d)
        if "blocks" in d:
            d["blocks"] = tuple(tuple(b) for b in d["blocks"])
        return cls(**d)


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width / 8)) * 8)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(8, channels // 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))  # (B, C, 1, 1)
        return x * s  # (B, C, H, W)


class InvertedResidual(nn.Module):
    """1x1 expand -> depthwise 3x3 (stride) -> [SE] -> 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, cout: int, expand: int, stride: int, se: bool) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.Hardswish()]
        if se:
            layers.append(SqueezeExcite(hidden))
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)  # (B, Cout, H/s, W/s)
        return x + y if self.residual else y


class ImageTower(nn.Module):
    """pixels (B, 1, H, W) normalised -> (embedding (B, dim) L2-normalised, patches (B, h, w, dim))."""

    def __init__(self, cfg: TowerConfig = TowerConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        stem = _ch(16, cfg.width)
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, stem, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(stem), nn.Hardswish())  # /2
        blocks, cin = [], stem
        for expand, cout, stride, se in cfg.blocks:
            cout = _ch(cout, cfg.width)
            blocks.append(InvertedResidual(cin, cout, expand, stride, se))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.features = nn.Sequential(nn.Conv2d(cin, cfg.feature_channels, 1, bias=False),
                                      nn.BatchNorm2d(cfg.feature_channels), nn.Hardswish())
        # per-patch projection into the text space (1x1 convs = a per-position MLP)
        self.head = nn.Sequential(nn.Conv2d(cfg.feature_channels, cfg.head_hidden, 1), nn.GELU(),
                                  nn.Dropout(cfg.dropout), nn.Conv2d(cfg.head_hidden, cfg.dim, 1))
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.stem(pixels)  # (B, 16, H/2, W/2)
        x = self.blocks(x)  # (B, C, H/32, W/32)
        return self.head(self.features(x))  # (B, dim, h, w)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.patch_features(pixels)  # (B, dim, h, w)
        emb = F.normalize(p.mean(dim=(2, 3)), dim=1)  # (B, dim)
        patches = p.permute(0, 2, 3, 1)  # (B, h, w, dim) not normalised: the runtime normalises
        return emb, patches

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Embedding only (training path)."""
        return F.normalize(self.patch_features(pixels).mean(dim=(2, 3)), dim=1)  # (B, dim)


class MomentumEncoder(nn.Module):
    """A frozen exponential-moving-average copy of a module (MoCo key encoder)."""

    def __init__(self, online: nn.Module, momentum: float = 0.995) -> None:
        super().__init__()
        self.momentum = momentum
        self.module = copy.deepcopy(online)
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, online: nn.Module) -> None:
        m = self.momentum
        for pk, pq in zip(self.module.parameters(), online.parameters()):
            pk.mul_(m).add_(pq.detach(), alpha=1 - m)
        for bk, bq in zip(self.module.buffers(), online.buffers()):
            bk.copy_(bq)

    @torch.no_grad()
    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
