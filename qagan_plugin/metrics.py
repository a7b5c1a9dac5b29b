"""Sample-quality metrics that need no downloaded network.

- :func:`sliced_wasserstein_distance`: SWD on Laplacian-pyramid patches, as in
  Karras et al., "Progressive Growing of GANs", ICLR 2018 (section 5 and
  ``metrics/sliced_wasserstein.py`` of the official code): 7x7 neighbourhoods,
  128 per image per level, per-channel normalisation, 4 x 128 random
  directions; reported x 1e3 per pyramid level (finest first) and averaged.
- :func:`set_niqe`: the NIQE distance between the standard natural-scene model
  and the MVG of NIQE features of all images of a set (one patch per image),
  for images too small for NIQE's 96-px patches (Mittal et al. 2013).
- :func:`dq_diversity`: mean dQ (paper variant) over random pairs of samples;
  higher means more diverse (0 for a collapsed generator).
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F

from .functional._checks import check_tensor
from .functional.niqe import mvg_fit, niqe_distance, niqe_features, rgb_to_gray_matlab
from .functional.ssim import dq_distance

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    n, c, h, w = x.shape
    k = (_BINOMIAL.to(x) * gain ** 0.5)
    y = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    y = F.conv2d(F.conv2d(y, k.view(1, 1, 5, 1)), k.view(1, 1, 1, 5))
    return y.reshape(n, c, h, w)


def laplacian_pyramid(x: torch.Tensor, levels: int):
    """Band-pass levels (finest first) and the low-pass residual last, ``levels`` tensors."""
    pyramid, cur = [], x
    for _ in range(levels - 1):
        down = _blur(cur)[..., ::2, ::2]
        up = torch.zeros_like(cur)
        up[..., ::2, ::2] = down
        pyramid.append(cur - _blur(up, gain=4.0))
        cur = down
    pyramid.append(cur)
    return pyramid


def _descriptors(level: torch.Tensor, per_image: int, nhood: int, gen: torch.Generator) -> torch.Tensor:
    """``per_image`` random ``nhood x nhood`` neighbourhoods per image: ``(n * per_image, c, nhood^2)``."""
    n, c, h, w = level.shape
    half = nhood // 2
    ys = torch.randint(half, h - half, (n * per_image, 1, 1, 1), generator=gen)
    xs = torch.randint(half, w - half, (n * per_image, 1, 1, 1), generator=gen)
    offsets = torch.arange(-half, half + 1)
    img = torch.arange(n).repeat_interleave(per_image).view(-1, 1, 1, 1)
    chan = torch.arange(c).view(1, -1, 1, 1)
    desc = level[img, chan, ys + offsets.view(1, 1, -1, 1), xs + offsets.view(1, 1, 1, -1)]
    return desc.reshape(n * per_image, c, nhood * nhood)


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    desc = desc - desc.mean(dim=(0, 2), keepdim=True)
    desc = desc / desc.std(dim=(0, 2), keepdim=True).clamp_min(1e-8)
    return desc.flatten(1)


def sliced_wasserstein_distance(real: torch.Tensor, fake: torch.Tensor, min_resolution: int = 16,
                                per_image: int = 128, nhood: int = 7, dir_repeats: int = 4,
                                dirs_per_repeat: int = 128, seed: int = 0) -> Dict[str, float]:
    """SWD x 1e3 between two equally sized sets of images ``(N, C, H, W)`` in [-1, 1].

    Returns ``{"swd_<res>": ..., "swd_mean": ...}`` for every pyramid level from
    the full resolution down to ``min_resolution``.
    """
    check_tensor("real", real, ndim=(4,), finite=True)
    check_tensor("fake", fake, ndim=(4,), finite=True)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake: expected the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    size = min(real.shape[-2:])
    if size < max(min_resolution, nhood + 1):
        raise ValueError(f"real: images of {size} px are too small for SWD (needs >= {max(min_resolution, nhood + 1)})")
    levels = 1
    while size // 2 ** levels >= min_resolution:
        levels += 1
    gen = torch.Generator().manual_seed(seed)
    out = {}
    # PGGAN works on 8-bit values; the scale cancels in the per-channel normalisation
    pyr_r = laplacian_pyramid(real.double().cpu() * 127.5, levels)
    pyr_f = laplacian_pyramid(fake.double().cpu() * 127.5, levels)
    for lr, lf in zip(pyr_r, pyr_f):
        a = _normalise(_descriptors(lr, per_image, nhood, gen)).float()
        b = _normalise(_descriptors(lf, per_image, nhood, gen)).float()
        dists = []
        for _ in range(dir_repeats):
            dirs = torch.randn(a.shape[1], dirs_per_repeat, generator=gen, dtype=a.dtype)
            dirs = dirs / dirs.norm(dim=0, keepdim=True)
            # (dirs, samples) layout: sorting along the contiguous dim is ~10x faster
            pa, _ = (dirs.T @ a.T).sort(dim=1)
            pb, _ = (dirs.T @ b.T).sort(dim=1)
            dists.append((pa - pb).abs().mean())
        out[f"swd_{lr.shape[-1]}"] = float(torch.stack(dists).mean()) * 1e3
    out["swd_mean"] = sum(out.values()) / len(out)
    return out


def set_niqe(images: torch.Tensor, patch_size: Optional[int] = None, model=None) -> float:
    """NIQE of a set of small images ``(N, 3|1, H, W)`` in [-1, 1] against the natural-scene model.

    Each image (grey, 8-bit scale) contributes its patches of ``patch_size``
    (default: the whole image, even-sized); their MVG is compared with the
    standard pristine model. Needs N * patches >= 2; 37+ for a full-rank fit.
    """
    check_tensor("images", images, ndim=(4,), finite=True)
    x = (images.double().cpu() + 1.0) * 127.5
    if x.shape[1] == 3:
        x = rgb_to_gray_matlab(x)
    side = min(x.shape[-2:])
    p = patch_size or side - side % 2
    feats = niqe_features(x, patch_size=p).reshape(-1, 36)
    if feats.shape[0] < 2:
        raise ValueError(f"images: a set NIQE needs at least 2 patches, got {feats.shape[0]}")
    if model is None:
        from .data import natural_scene_model

        model = natural_scene_model()
    mu_t, cov_t = mvg_fit(feats)
    return float(niqe_distance(model[0], model[1], mu_t, cov_t))


def dq_diversity(images: torch.Tensor, pairs: int = 256, seed: int = 0) -> float:
    """Mean paper-variant dQ over random pairs of distinct images ``(N, C, H, W)`` in [-1, 1]."""
    check_tensor("images", images, ndim=(4,), finite=True)
    n = images.shape[0]
    if n < 2:
        raise ValueError(f"images: diversity needs at least 2 images, got {n}")
    gen = torch.Generator().manual_seed(seed)
    i = torch.randint(0, n, (pairs,), generator=gen)
    j = (i + torch.randint(1, n, (pairs,), generator=gen)) % n
    window = 11 if min(images.shape[-2:]) >= 11 else 3
    with torch.no_grad():
        return float(dq_distance(images[i].float(), images[j].float(), window_size=window).mean())
