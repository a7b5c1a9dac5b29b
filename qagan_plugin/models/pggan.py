"""Progressive growing of GANs (Karras et al., ICLR 2018) in StudioGAN's model contract.

StudioGAN backbone ``pggan`` (entry point ``studiogan.backbones``). Faithful to the paper and the
official code's "v1" preset (methods-spec section 5): equalized learning rate (weights N(0, 1)
scaled at run time by ``gain / sqrt(fan_in)``, gain sqrt(2), 1 for toRGB and the last dense
layer, sqrt(2)/4 for G's first dense layer as the official code), pixel norm in G (on the
latent and after every 3x3 conv), minibatch standard deviation at the start of D's 4x4 block
(group size configurable, default 4), leaky ReLU 0.2, feature maps
``min(fmap_base / 2^(log2(res) - 1), fmap_max)`` (8192 and 512: 512 up to 32 px, 256 at 64,
128 at 128, 64 at 256), nearest-neighbour up and 2x2 average-pool down, and fade-in by alpha.

The level of detail is a float ``lod`` (0 = full resolution), set by :func:`set_lod` on G, its
EMA copy and D, never a buffer (StudioGAN's EMA lerps buffers). From it: the current level
``L = max_level - floor(lod)`` (resolution ``4 * 2^L``) and its fade ``alpha = 1 - frac(lod)``
(1 = the plain network at level L). The generator always returns images at the configured full
resolution (nearest-upsampling the current level); the discriminator average-pools any input to
the current level and fades it as the official code fades reals
(``x <- lerp(up(avgpool(x)), x, alpha)``), so StudioGAN's loop, data and evaluation stay unchanged.
Unconditional (``g_cond_mtd``/``d_cond_mtd`` "W/O").
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

OUTPUT_KEYS = ("h", "adv_output", "embed", "proxy", "cls_output", "label", "mi_embed", "mi_proxy", "mi_cls_output",
               "info_discrete_c_logits", "info_conti_mu", "info_conti_var")

# StudioGAN MODEL keys of this backbone (merged into the config before the YAML is read)
config_defaults = {"MODEL": {
    "pg_fmap_base": 8192,          # feature maps: min(pg_fmap_base / 2^(log2(res) - 1), pg_fmap_max)
    "pg_fmap_max": 512,
    "pg_mbstd_group_size": 4,      # minibatch-stddev group (the paper: whole minibatch)
    "pg_train_kimg": 800,          # images (thousands) per stabilisation phase
    "pg_trans_kimg": 800,          # images (thousands) per fade-in phase
    "pg_reset_optimizer": True,    # reset Adam state whenever floor or ceil of lod changes (official)
    "pg_qagan_niqe_min_resolution": 16,  # NIQE-GP is off at levels below this resolution
}}


# ------------------------------------------------------------------ layers
class EqualizedConv2d(nn.Module):
    """Conv with weights N(0, 1) scaled by ``gain / sqrt(fan_in)`` at run time; zero bias."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: int = 0, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel)
        self.padding = padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    def __init__(self, cin: int, cout: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin)

    def forward(self, x):
        return F.linear(x, self.weight * self.scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean_c x^2 + eps)`` over the channel (feature) dim 1."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one feature map: the average over features and pixels of the per-group std.

    Groups are ``min(group_size, N)`` consecutive samples; when N is not a multiple, the largest
    divisor of N not above ``group_size`` is used (the official code requires divisibility).
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.reshape(g, n // g, c, h, w).float()
    y = y - y.mean(dim=0, keepdim=True)
    y = (y.pow(2).mean(dim=0) + 1e-8).sqrt()              # (n/g, c, h, w)
    y = y.mean(dim=(1, 2, 3)).to(x.dtype)                  # one scalar per group
    y = y.view(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


def lrelu(x):
    return F.leaky_relu(x, 0.2)


def n_features(res: int, fmap_base: int = 8192, fmap_max: int = 512) -> int:
    return int(min(fmap_base // 2 ** (int(math.log2(res)) - 1), fmap_max))


def lod_to_level(lod: float, max_level: int):
    """``(level, alpha)`` of a level of detail (0 = full resolution)."""
    if not 0 <= lod <= max_level:
        raise ValueError(f"lod: expected a number in [0, {max_level}], got {lod!r}")
    floor = math.floor(lod)
    return max_level - floor, 1.0 - (lod - floor)


def schedule_lod(kimg: float, max_level: int, train_kimg: float = 800.0, trans_kimg: float = 800.0) -> float:
    """The official schedule: level of detail after ``kimg`` thousand real images shown.

    Phases of ``train_kimg`` (stable) then ``trans_kimg`` (fade into the next level), starting at 4x4.
    """
    if train_kimg <= 0 or trans_kimg <= 0:
        raise ValueError(f"train_kimg/trans_kimg: expected numbers > 0, got {train_kimg!r}, {trans_kimg!r}")
    phase_dur = train_kimg + trans_kimg
    phase_idx = math.floor(kimg / phase_dur)
    lod = max_level - phase_idx - max(kimg - phase_idx * phase_dur - train_kimg, 0.0) / trans_kimg
    return max(lod, 0.0)


class _Progressive(nn.Module):
    """Shared lod state; not a buffer (StudioGAN's EMA lerps buffers)."""

    def _init_lod(self, img_size: int):
        if img_size < 4 or img_size & (img_size - 1):
            raise ValueError(f"DATA.img_size: backbone pggan needs a power of 2 >= 4, got {img_size}")
        self.img_size = img_size
        self.max_level = int(math.log2(img_size)) - 2
        self.lod = 0.0
        # every block idles at some level: DDP must not wait for their gradients
        self.find_unused_parameters = True

    def set_lod(self, lod: float) -> None:
        lod_to_level(lod, self.max_level)  # validates
        self.lod = float(lod)

    @property
    def level(self) -> int:
        return lod_to_level(self.lod, self.max_level)[0]

    @property
    def alpha(self) -> float:
        return lod_to_level(self.lod, self.max_level)[1]

    @property
    def current_resolution(self) -> int:
        return 4 * 2 ** self.level


def _check_cond(mtd):
    if mtd not in ("W/O", None):
        raise ValueError(f"backbone pggan is unconditional; got conditioning {mtd!r} (use 'W/O')")


def _model_value(MODEL, key):
    value = getattr(MODEL, key, config_defaults["MODEL"][key]) if MODEL is not None else config_defaults["MODEL"][key]
    return config_defaults["MODEL"][key] if value == "N/A" else value


class Generator(_Progressive):
    """``z (N, z_dim) -> (N, 3, img_size, img_size)`` (linear output, as the paper)."""

    def __init__(self, z_dim, g_shared_dim, img_size, g_conv_dim, apply_attn, attn_g_loc, g_cond_mtd, num_classes,
                 g_init, g_depth, mixed_precision, MODULES, MODEL):
        super().__init__()
        _check_cond(g_cond_mtd)
        self._init_lod(img_size)
        base, fmax = _model_value(MODEL, "pg_fmap_base"), _model_value(MODEL, "pg_fmap_max")
        nf = [n_features(4 * 2 ** i, base, fmax) for i in range(self.max_level + 1)]
        self.z_dim = z_dim
        self.dense = EqualizedLinear(z_dim, nf[0] * 16, gain=math.sqrt(2) / 4)
        self.conv4 = EqualizedConv2d(nf[0], nf[0], 3, padding=1)
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(nf[i - 1], nf[i], 3, padding=1),
                                                    EqualizedConv2d(nf[i], nf[i], 3, padding=1)])
                                     for i in range(1, self.max_level + 1)])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(nf[i], 3, 1, gain=1.0) for i in range(self.max_level + 1)])
        self.mixed_precision = mixed_precision

    def features(self, z: torch.Tensor, level: int):
        """Feature maps at ``level`` and at ``level - 1`` (None at level 0)."""
        h = pixel_norm(z)
        h = pixel_norm(lrelu(self.dense(h).view(z.shape[0], -1, 4, 4)))
        h = pixel_norm(lrelu(self.conv4(h)))
        prev = None
        for i in range(1, level + 1):
            prev = h
            conv1, conv2 = self.blocks[i - 1]
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = pixel_norm(lrelu(conv1(h)))
            h = pixel_norm(lrelu(conv2(h)))
        return h, prev

    def forward_level(self, z: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        """Images at the level's own resolution ``4 * 2^level``."""
        h, prev = self.features(z, level)
        out = self.to_rgb[level](h)
        if alpha < 1.0 and level > 0:
            coarse = F.interpolate(self.to_rgb[level - 1](prev), scale_factor=2, mode="nearest")
            out = torch.lerp(coarse, out, alpha)
        return out

    def forward(self, z, label=None, shared_label=None, eval=False):
        with torch.autocast(device_type=z.device.type, enabled=bool(self.mixed_precision and not eval)):
            out = self.forward_level(z, self.level, self.alpha)
            factor = self.img_size // out.shape[-1]
            return F.interpolate(out, scale_factor=factor, mode="nearest") if factor > 1 else out


class Discriminator(_Progressive):
    """``(N, 3, img_size, img_size) -> StudioGAN's output dict``; pools and fades inputs to the level."""

    def __init__(self, img_size, d_conv_dim, apply_d_sn, apply_attn, attn_d_loc, d_cond_mtd, aux_cls_type,
                 d_embed_dim, num_classes, normalize_d_embed, d_init, d_depth, mixed_precision, MODULES, MODEL):
        super().__init__()
        _check_cond(d_cond_mtd)
        self._init_lod(img_size)
        base, fmax = _model_value(MODEL, "pg_fmap_base"), _model_value(MODEL, "pg_fmap_max")
        self.group_size = int(_model_value(MODEL, "pg_mbstd_group_size"))
        nf = [n_features(4 * 2 ** i, base, fmax) for i in range(self.max_level + 1)]
        self.from_rgb = nn.ModuleList([EqualizedConv2d(3, nf[i], 1) for i in range(self.max_level + 1)])
        # blocks[i - 1] takes level i (nf[i]) down to level i - 1 (nf[i - 1])
        self.blocks = nn.ModuleList([nn.ModuleList([EqualizedConv2d(nf[i], nf[i], 3, padding=1),
                                                    EqualizedConv2d(nf[i], nf[i - 1], 3, padding=1)])
                                     for i in range(1, self.max_level + 1)])
        self.conv4 = EqualizedConv2d(nf[0] + 1, nf[0], 3, padding=1)
        self.conv4x4 = EqualizedConv2d(nf[0], nf[0], 4)
        self.linear = EqualizedLinear(nf[0], 1, gain=1.0)
        self.mixed_precision = mixed_precision

    def _block(self, i: int, h: torch.Tensor) -> torch.Tensor:
        conv1, conv2 = self.blocks[i - 1]
        return F.avg_pool2d(lrelu(conv2(lrelu(conv1(h)))), 2)

    def forward_level(self, x: torch.Tensor, level: int, alpha: float = 1.0) -> torch.Tensor:
        """Logits ``(N,)`` of images at the level's own resolution."""
        h = lrelu(self.from_rgb[level](x))
        if level > 0:
            h = self._block(level, h)
            if alpha < 1.0:
                coarse = lrelu(self.from_rgb[level - 1](F.avg_pool2d(x, 2)))
                h = torch.lerp(coarse, h, alpha)
            for i in range(level - 1, 0, -1):
                h = self._block(i, h)
        h = lrelu(self.conv4(minibatch_stddev(h, self.group_size)))
        h = lrelu(self.conv4x4(h)).flatten(1)
        return self.linear(h).reshape(-1)

    def to_level(self, x: torch.Tensor, level: Optional[int] = None, alpha: Optional[float] = None) -> torch.Tensor:
        """Average-pool full-resolution images to the level and fade them as the official code fades reals."""
        level = self.level if level is None else level
        alpha = self.alpha if alpha is None else alpha
        size = 4 * 2 ** level
        if x.shape[-1] != size:
            x = F.adaptive_avg_pool2d(x, size) if x.shape[-1] % size else F.avg_pool2d(x, x.shape[-1] // size)
        if alpha < 1.0 and level > 0:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, alpha)
        return x

    def forward(self, x, label=None, eval=False, adc_fake=False):
        with torch.autocast(device_type=x.device.type, enabled=bool(self.mixed_precision and not eval)):
            out = dict.fromkeys(OUTPUT_KEYS)
            out["adv_output"] = self.forward_level(self.to_level(x), self.level, self.alpha)
            out["label"] = label
            return out


# ------------------------------------------------------------------ StudioGAN hooks
def _peel(module):
    return getattr(module, "module", module) if module is not None else None


def images_shown(worker, step: int) -> float:
    """Real images D has seen before generator step ``step`` (all ranks)."""
    opt = worker.cfgs.OPTIMIZATION
    world = getattr(opt, "world_size", 1) or 1
    return float(step) * opt.batch_size * opt.acml_steps * opt.d_updates_per_step * world


def on_step_begin(worker, current_step: int) -> None:
    """Set lod on G, G_ema and D from the images shown (recomputed on resume); reset Adam per level change."""
    MODEL = worker.cfgs.MODEL
    nets = [_peel(getattr(worker, name, None)) for name in ("Gen", "Gen_ema", "Dis")]
    nets = [n for n in nets if isinstance(n, _Progressive)]
    if not nets:
        return
    kimg = images_shown(worker, current_step) / 1000.0
    lod = schedule_lod(kimg, nets[0].max_level, _model_value(MODEL, "pg_train_kimg"),
                       _model_value(MODEL, "pg_trans_kimg"))
    previous = getattr(worker, "_pggan_lod", None)
    for net in nets:
        net.set_lod(lod)
    worker._pggan_lod = lod
    if previous is not None and _model_value(MODEL, "pg_reset_optimizer") and \
            (math.floor(previous) != math.floor(lod) or math.ceil(previous) != math.ceil(lod)):
        for opt in (worker.OPTIMIZATION.g_optimizer, worker.OPTIMIZATION.d_optimizer):
            opt.state.clear()
