"""Load a trained discriminator from a checkpoint file, safely (``weights_only=True``).

Accepted: a ``qagan-plugin demo`` checkpoint (keys ``D`` and ``backbone``), or a
plain critic state dict plus ``backbone``/``img_size``/``width`` given by the
caller. StudioGAN checkpoints need StudioGAN's model code and are read by the
StudioGAN integration.
"""
import os
from typing import Optional, Tuple

import torch
import torch.nn as nn

from .resnet import GENERATOR_LAYOUT, ResNetCritic

BACKBONES = ("resnet",)


def load_discriminator(path: str, backbone: Optional[str] = None, img_size: Optional[int] = None,
                       width: Optional[int] = None) -> Tuple[nn.Module, int]:
    """``(critic in eval mode, its training image size)``; raises ``ValueError`` naming what is wrong."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read as a PyTorch checkpoint ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0][:200]})") from None
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(ckpt).__name__}")
    if "D" in ckpt and isinstance(ckpt.get("backbone"), dict):
        meta = ckpt["backbone"]
        state = ckpt["D"]
        backbone, img_size, width = meta["name"], meta["img_size"], meta["width"]
    elif ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        state = ckpt
        if backbone is None or img_size is None:
            raise ValueError(f"{path}: a plain state dict needs --backbone and --img-size (backbones: "
                             f"{', '.join(BACKBONES)})")
    else:
        raise ValueError(f"{path}: no discriminator found; expected a qagan-plugin demo checkpoint (keys 'D' and "
                         f"'backbone') or a critic state dict, got keys {sorted(ckpt)[:8]}")
    if backbone not in BACKBONES:
        raise ValueError(f"backbone: expected one of {list(BACKBONES)}, got {backbone!r}")
    if img_size not in GENERATOR_LAYOUT:
        raise ValueError(f"img_size: expected one of {sorted(GENERATOR_LAYOUT)}, got {img_size!r}")
    if width is None:
        weight = state.get("linear.weight")
        if weight is None:
            raise ValueError(f"{path}: state dict has no 'linear.weight'; is it a ResNet critic?")
        width = weight.shape[1]
    D = ResNetCritic(img_size, width)
    try:
        D.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path}: the state dict does not fit a {backbone} critic of width {width}: "
                         f"{str(exc).splitlines()[0][:200]}") from None
    return D.eval(), img_size
