"""Fit the NIQE-GP pristine model from a trained critic over a folder of real images.

The pristine MVG describes NIQE features of the critic's input-gradient maps at
real images (QAGAN slides p.16; the authors' README asks for 50k+ maps). The
features come from the same pipeline NIQE-GP applies during training
(:meth:`NIQEGradientPenalty.features` with the given settings), so the file
written here can be named as ``pristine`` in the NIQE-GP config.

File format: ``.npz`` with ``mu (36,)``, ``cov (36, 36)`` (unbiased), ``seen``
(number of feature vectors) and ``settings`` (a JSON string of the feature
settings); written under a temporary name and renamed, so an interrupted run
leaves nothing behind.
"""
import json
import os
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from .functional.niqe import mvg_fit
from .regularizers.gradient import input_gradient
from .regularizers.niqe_gp import NIQEGradientPenalty

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def list_images(folder: str):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such data folder")
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(folder) for f in names
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise ValueError(f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} recursively)")
    return files


def load_images(files, size: int) -> torch.Tensor:
    """RGB images as ``(N, 3, size, size)`` in [-1, 1]: centre square crop, area-resized to ``size``."""
    from PIL import Image

    out = []
    for path in files:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read as an image ({exc})") from None
        w, h = im.size
        if min(w, h) < size:
            raise ValueError(f"{path}: image is {h}x{w}, smaller than the critic's {size}x{size} input")
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        if side != size:
            im = im.resize((size, size), Image.BOX)
        out.append(torch.from_numpy(np.asarray(im, dtype=np.float32)).permute(2, 0, 1))
    return torch.stack(out) / 127.5 - 1.0


def fit_pristine(discriminator, files, img_size: int, batch: int = 64, progress: bool = True,
                 **feature_settings) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """``(mu, cov, n)`` of gradient-map features of ``discriminator`` at the images."""
    from tqdm import tqdm

    penalty = NIQEGradientPenalty(**feature_settings)
    feats = []
    for i in tqdm(range(0, len(files), batch), desc="fit-pristine", unit="batch", disable=not progress):
        x = load_images(files[i:i + batch], img_size).requires_grad_(True)
        grad = input_gradient(discriminator(x).reshape(-1), x, create_graph=False)
        feats.append(penalty.features(grad.detach()).double())
    feats = torch.cat(feats)
    if feats.shape[0] < 37:
        raise ValueError(f"only {feats.shape[0]} feature vectors from {len(files)} images; a full-rank 36x36 "
                         f"covariance needs at least 37 (use more images)")
    mu, cov = mvg_fit(feats)
    return mu, cov, feats.shape[0]


def write_pristine(path: str, mu: torch.Tensor, cov: torch.Tensor, seen: int, settings: Dict) -> None:
    tmp = path + ".tmp.npz"
    np.savez(tmp, mu=mu.numpy(), cov=cov.numpy(), seen=np.array(seen), settings=np.array(json.dumps(settings)))
    os.replace(tmp, path)


def run(discriminator_path: str, data: str, out: str, max_images: Optional[int] = None,
        backbone: Optional[str] = None, img_size: Optional[int] = None, batch: int = 64, progress: bool = True,
        **feature_settings) -> Dict:
    """Everything ``qagan-plugin fit-pristine`` does; checks all inputs before computing."""
    from .models.loading import load_discriminator

    if not out.endswith(".npz"):
        raise ValueError(f"--out: expected a file name ending in .npz, got {out!r}")
    if os.path.dirname(out) and not os.path.isdir(os.path.dirname(out)):
        raise FileNotFoundError(f"--out: folder {os.path.dirname(out)} does not exist")
    D, size = load_discriminator(discriminator_path, backbone, img_size)
    files = list_images(data)
    if max_images is not None:
        files = files[:max_images]
    mu, cov, seen = fit_pristine(D, files, size, batch, progress, **feature_settings)
    settings = {"img_size": size, **NIQEGradientPenalty(**feature_settings).map_kwargs}
    write_pristine(out, mu, cov, seen, settings)
    return {"images": len(files), "feature_vectors": seen, "out": out}
