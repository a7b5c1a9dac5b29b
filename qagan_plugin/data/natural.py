"""Embedded natural-image patches, cut from the photographs scikit-image ships.

Real natural-scene statistics, offline and deterministic by seed: the default
data of the demo, the CPU smoke runs and the benchmarks.

Sources (``skimage.data``, all bundled with the package, never downloaded):
colour photographs ``astronaut``, ``chelsea``, ``coffee``, ``rocket`` and the
left view of ``stereo_motorcycle``; grey photographs ``camera``, ``grass``,
``gravel``, ``brick`` and ``moon`` (replicated to three channels).

Every photograph is split by rows: the top 80 % feeds ``split="train"``, the
bottom 20 % ``split="valid"``, so held-out patches never overlap training
patches. A patch is a random square crop whose side is ``size`` times a random
zoom in [1, 4] (log-uniform), area-resampled to ``size``, flipped
horizontally with probability 1/2.
"""
import math
import os
from functools import lru_cache
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

COLOUR_SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")
GREY_SOURCES = ("camera", "grass", "gravel", "brick", "moon")
TRAIN_FRACTION = 0.8
MAX_ZOOM = 4.0


def _load_source(name: str) -> np.ndarray:
    try:
        from skimage import data as skdata
    except ImportError as exc:  # pragma: no cover - scikit-image is a dependency
        raise ImportError("natural_patches needs scikit-image (pip install scikit-image)") from exc
    if name == "motorcycle_left":
        img = skdata.stereo_motorcycle()[0]
    else:
        img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


@lru_cache(maxsize=2)
def _sources(split: str) -> Tuple[torch.Tensor, ...]:
    out = []
    for name in COLOUR_SOURCES + GREY_SOURCES:
        img = torch.from_numpy(_load_source(name)).permute(2, 0, 1).float() / 127.5 - 1.0
        cut = int(round(img.shape[1] * TRAIN_FRACTION))
        out.append(img[:, :cut] if split == "train" else img[:, cut:])
    return tuple(out)


def natural_patches(n: int, size: int = 32, seed: int = 0, split: str = "train") -> torch.Tensor:
    """``n`` RGB natural-image patches, ``(n, 3, size, size)`` float32 in [-1, 1].

    Args:
        n: number of patches (>= 1).
        size: side in pixels, from 4 up to the largest photograph region of the split;
            photographs too small for the size are skipped.
        seed: the same seed gives the same patches.
        split: ``train`` or ``valid`` (disjoint image regions).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected an int >= 1, got {n!r}")
    if split not in ("train", "valid"):
        raise ValueError(f"split: expected 'train' or 'valid', got {split!r}")
    all_sources = _sources(split)
    max_side = max(min(s.shape[1:]) for s in all_sources)
    if not isinstance(size, int) or isinstance(size, bool) or size < 4 or size > max_side:
        raise ValueError(f"size: expected an int in [4, {max_side}] for split {split!r}, got {size!r}")
    # photographs whose split region is smaller than a patch are skipped at that size
    sources = tuple(s for s in all_sources if min(s.shape[1:]) >= size)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    which = rng.integers(0, len(sources), size=n)
    out = torch.empty(n, 3, size, size)
    for k in range(len(sources)):  # one resampling call per source photograph
        idx = np.nonzero(which == k)[0]
        if idx.size == 0:
            continue
        src = sources[k]
        h, w = src.shape[1:]
        max_zoom = min(MAX_ZOOM, h / size, w / size)
        zoom = np.exp(rng.uniform(0.0, math.log(max_zoom), size=idx.size))
        sides = np.maximum(size, np.floor(size * zoom)).astype(int)
        crops = []
        for side in sides:
            top = rng.integers(0, h - side + 1)
            left = rng.integers(0, w - side + 1)
            crop = src[:, top:top + side, left:left + side][None]
            crops.append(F.interpolate(crop, size=(size, size), mode="area") if side != size else crop)
        batch = torch.cat(crops)
        flip = torch.from_numpy(rng.random(idx.size) < 0.5)
        batch[flip] = batch[flip].flip(-1)
        out[torch.from_numpy(idx)] = batch
    return out.clamp_(-1.0, 1.0)


def export_image_folder(root: str, n: int = 2000, size: int = 32, seed: int = 0, n_valid: Optional[int] = None,
                        class_name: str = "natural") -> List[str]:
    """Write PNGs as ``root/train/<class>/`` and ``root/valid/<class>/`` (torchvision ImageFolder layout).

    StudioGAN's folder loader reads ``DATA_DIR/train`` (and ``valid`` for ``-ref valid``).
    The folders are written under temporary names and renamed at the end, so an
    interrupted export leaves no half-written split. Returns the split folders.
    """
    from PIL import Image

    n_valid = max(1, n // 5) if n_valid is None else n_valid
    written = []
    for split, count in (("train", n), ("valid", n_valid)):
        final = os.path.join(root, split, class_name)
        if os.path.exists(final) and os.listdir(final):
            raise FileExistsError(f"{final}: already exists and is not empty; choose an empty DIR")
    for split, count in (("train", n), ("valid", n_valid)):
        patches = natural_patches(count, size, seed, split)
        pixels = ((patches + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        final = os.path.join(root, split, class_name)
        tmp = final + ".partial"
        os.makedirs(tmp, exist_ok=True)
        for i, arr in enumerate(pixels):
            Image.fromarray(arr).save(os.path.join(tmp, f"{i:06d}.png"))
        if os.path.isdir(final):
            os.rmdir(final)
        os.replace(tmp, final)
        written.append(final)
    return written
