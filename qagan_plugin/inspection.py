"""``qagan-plugin inspect``: the QAGAN poster's figure for one image.

Rows: the image and distorted versions (Gaussian noise, Gaussian blur, JPEG).
Columns: the image, its MSCN coefficients, its spatial gradient (Sobel
magnitude, the authors' MATLAB pristine route), the critic's input gradient
(luma), and the histograms of the MSCN coefficients of each of the three maps.
Natural images have Gaussian-like MSCN histograms; distortions change their
shape, which is what NIQE measures and what NIQE-GP asks of the critic's
gradient maps.
"""
import io
import os
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .functional.niqe import mscn, rgb_to_gray_matlab
from .regularizers.gradient import input_gradient
from .regularizers.niqe_gp import gradient_maps

DEFAULT_DEMO_CHECKPOINT = os.path.join("demo_out", "checkpoint.pt")


def _distortions(img_uint8: np.ndarray, seed: int = 0):
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    pil = Image.fromarray(img_uint8)
    noisy = np.clip(img_uint8 + rng.normal(0, 20, img_uint8.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=10)
    jpeg = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return [("pristine", img_uint8), ("noise (sigma 20)", noisy),
            ("blur (sigma 2)", np.asarray(pil.filter(ImageFilter.GaussianBlur(2)))), ("JPEG q10", jpeg)]


def _sobel_magnitude(grey: torch.Tensor) -> torch.Tensor:
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=grey.dtype).view(1, 1, 3, 3)
    g = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(g, kx), F.conv2d(g, kx.transpose(-1, -2))
    return (gx * gx + gy * gy).sqrt()


def make_figure(image_path: str, out: str, discriminator: Optional[str] = None, size: int = 128) -> str:
    """Write the figure to ``out`` (PNG) and return the discriminator checkpoint used."""
    from PIL import Image

    from .fit_pristine import load_images
    from .models.loading import load_discriminator

    ckpt = discriminator or DEFAULT_DEMO_CHECKPOINT
    if not os.path.isfile(ckpt):
        if discriminator is None:
            raise FileNotFoundError(f"no discriminator given and no demo checkpoint at {ckpt}; run "
                                    f"`qagan-plugin demo` first or pass --discriminator CKPT")
        raise FileNotFoundError(f"{ckpt}: no such checkpoint file")
    if not out.lower().endswith(".png"):
        raise ValueError(f"--out: expected a .png file name, got {out!r}")
    D, _ = load_discriminator(ckpt)
    base = ((load_images([image_path], size)[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _distortions(base)
    fig, axes = plt.subplots(len(rows), 5, figsize=(15, 3 * len(rows)))
    bins = np.linspace(-3, 3, 61)
    for r, (name, arr) in enumerate(rows):
        x = torch.from_numpy(np.array(arr)).permute(2, 0, 1)[None].float()
        grey = rgb_to_gray_matlab(x)
        img_mscn = mscn(grey)
        spatial = _sobel_magnitude(grey)
        spatial_mscn = mscn(spatial / spatial.pow(2).mean().sqrt().clamp_min(1e-6), c=0.02)
        xin = (x / 127.5 - 1).requires_grad_(True)
        dgrad = gradient_maps(input_gradient(D(xin).reshape(-1), xin, create_graph=False), "luma", True)
        dgrad_mscn = mscn(dgrad, c=0.02)
        panels = [(arr, None, name), (img_mscn[0, 0], "gray", "MSCN of image"),
                  (spatial[0, 0], "magma", "spatial gradient (Sobel)"), (dgrad[0, 0], "RdBu_r", "critic gradient (luma)")]
        for c, (data, cmap, title) in enumerate(panels):
            ax = axes[r, c]
            if cmap is None:
                ax.imshow(data)
            else:
                d = data.detach().numpy()
                lim = np.percentile(np.abs(d), 99) or 1.0
                ax.imshow(d, cmap=cmap, vmin=-lim if cmap != "magma" else 0, vmax=lim)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        ax = axes[r, 4]
        for data, label in ((img_mscn, "image"), (spatial_mscn, "spatial grad."), (dgrad_mscn, "critic grad.")):
            ax.hist(data.detach().numpy().ravel(), bins=bins, density=True, histtype="step", label=label)
        ax.set_yscale("log")
        ax.set_title("MSCN histograms", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{os.path.basename(image_path)}: natural-scene statistics of the image, its gradient and the "
                 f"critic's gradient ({os.path.basename(ckpt)})", fontsize=11)
    fig.tight_layout()
    tmp = out[:-4] + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)
    return ckpt
