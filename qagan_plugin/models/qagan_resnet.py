"""StudioGAN backbone ``qagan_resnet``: the QAGAN/BWGAN ResNet pair in StudioGAN's model contract.

The architecture the QAGAN authors trained (Gulrajani et al.'s ResNet as packaged in BWGAN,
methods-spec section 2.4; :mod:`qagan_plugin.models.resnet`) at 32, 48 and 64 px. It is what
the "paper" configs use to reproduce the authors' setup, and the only backbone that runs
STL-10 at its native 48x48 (StudioGAN's own backbones support 32/64/128/256/512 only).
``MODEL.g_conv_dim``/``d_conv_dim`` are the block width (authors: 128). Unconditional only.

Constructor arguments and forward signatures follow StudioGAN's non-StyleGAN contract
(``models/model.py``); the discriminator returns StudioGAN's 12-key output dict.
"""
import contextlib

import torch
import torch.nn as nn

from .resnet import GENERATOR_LAYOUT, ResNetCritic, ResNetGenerator

OUTPUT_KEYS = ("h", "adv_output", "embed", "proxy", "cls_output", "label", "mi_embed", "mi_proxy", "mi_cls_output",
               "info_discrete_c_logits", "info_conti_mu", "info_conti_var")


def _check(img_size, conv_dim, cond_mtd, name):
    if img_size not in GENERATOR_LAYOUT:
        raise ValueError(f"DATA.img_size: backbone qagan_resnet supports {sorted(GENERATOR_LAYOUT)}, got {img_size}")
    if not isinstance(conv_dim, int) or conv_dim < 1:
        raise ValueError(f"MODEL.{name}: backbone qagan_resnet needs an int width (authors: 128), got {conv_dim!r}")
    if cond_mtd not in ("W/O", None):
        raise ValueError(f"backbone qagan_resnet is unconditional; got conditioning {cond_mtd!r} (use 'W/O')")


def _autocast(enabled: bool, x: torch.Tensor):
    return torch.autocast(device_type=x.device.type) if enabled else contextlib.nullcontext()


class Generator(nn.Module):
    def __init__(self, z_dim, g_shared_dim, img_size, g_conv_dim, apply_attn, attn_g_loc, g_cond_mtd, num_classes,
                 g_init, g_depth, mixed_precision, MODULES, MODEL):
        super().__init__()
        _check(img_size, g_conv_dim, g_cond_mtd, "g_conv_dim")
        self.net = ResNetGenerator(img_size, g_conv_dim, z_dim)
        self.mixed_precision = mixed_precision

    def forward(self, z, label, shared_label=None, eval=False):
        with _autocast(self.mixed_precision and not eval, z):
            return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, img_size, d_conv_dim, apply_d_sn, apply_attn, attn_d_loc, d_cond_mtd, aux_cls_type,
                 d_embed_dim, num_classes, normalize_d_embed, d_init, d_depth, mixed_precision, MODULES, MODEL):
        super().__init__()
        _check(img_size, d_conv_dim, d_cond_mtd, "d_conv_dim")
        self.net = ResNetCritic(img_size, d_conv_dim)
        self.mixed_precision = mixed_precision

    def forward(self, x, label, eval=False, adc_fake=False):
        with _autocast(self.mixed_precision and not eval, x):
            out = dict.fromkeys(OUTPUT_KEYS)
            out["adv_output"] = self.net(x)
            out["label"] = label
            return out
