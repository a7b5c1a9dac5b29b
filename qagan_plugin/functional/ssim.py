"""SSIM's luminance (L) and contrast-structure (CS) maps, SSIM and the distance dQ.

References:
    Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE TIP 13(4), 2004.
    Brunet, Vrscay, Wang, "On the mathematical properties of the structural
    similarity index", IEEE TIP 21(4):1488-1499, 2012 (dQ is a metric).
    Kancharla, Channappayya, "Quality Aware Generative Adversarial Networks",
    NeurIPS 2019 (dQ in the SSIM gradient penalty).

Local statistics use a normalised Gaussian window ``w`` (biased moments)::

    mu_x = w * x,  sigma_x^2 = w * x^2 - mu_x^2,  sigma_xy = w * (x y) - mu_x mu_y
    L  = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
    CS = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2 + eps_cs)
    SSIM = L * CS,   dQ(i, j) = sqrt(2 - L(i, j) - CS(i, j))

with ``C1 = (K1 R)^2``, ``C2 = (K2 R)^2`` for data range ``R`` and ``eps_cs = 0``
except in the authors' variant (0.01).
"""
from typing import Tuple

import torch

from ._checks import check_choice, check_positive, check_same_shape, check_tensor
from .filters import PADDING_MODES, gaussian_window_1d, separable_filter

# ITU-R BT.601 luma weights as TensorFlow's rgb_to_grayscale uses them.
LUMA_WEIGHTS_TF = (0.2989, 0.5870, 0.1140)
COLOR_MODES = ("per_channel", "luma")
POOLINGS = ("mean_sqrt", "sqrt_mean")


def to_luma(x: torch.Tensor, weights=LUMA_WEIGHTS_TF) -> torch.Tensor:
    """``(N, 3, H, W) -> (N, 1, H, W)`` weighted sum of channels; 1-channel input passes through."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise ValueError(f"x: luma conversion expects 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    w = torch.tensor(weights, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def _check_pair(x, y, window_size, padding, finite):
    check_tensor("x", x, ndim=(4,), finite=finite)
    check_tensor("y", y, ndim=(4,), finite=finite)
    check_same_shape("x", x, "y", y)
    check_choice("padding", padding, PADDING_MODES)
    if padding == "valid" and min(x.shape[-2:]) < window_size:
        raise ValueError(
            f"x: spatial size {x.shape[-2]}x{x.shape[-1]} is too small for a {window_size}x{window_size} "
            f"window with valid padding (needs at least {window_size}x{window_size}; use a smaller "
            f"window_size or a same-size padding)")


def ssim_components(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 2.0,
    window_size: int = 11,
    sigma: float = 1.5,
    padding: str = "valid",
    k1: float = 0.01,
    k2: float = 0.03,
    cs_denominator_eps: float = 0.0,
    check_finite: bool = True,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Local luminance and contrast-structure maps.

    Args:
        x, y: ``(N, C, H, W)`` images in a range of width ``data_range``.
        data_range: ``R`` in ``C1 = (k1 R)^2``, ``C2 = (k2 R)^2``; 2 for [-1, 1] data.
        window_size, sigma: the Gaussian window (see :func:`gaussian_window_1d`).
        padding: ``valid`` (Wang et al.'s reference: maps of ``H - k + 1``) or a
            same-size padding mode (``zero`` is the authors' TF ``SAME``).
        cs_denominator_eps: constant added to CS's denominator (authors: 0.01).

    Returns:
        ``(L, CS)``, each ``(N, C, H', W')``, computed in at least float32.
    """
    _check_pair(x, y, window_size, padding, check_finite)
    check_positive("data_range", data_range)
    check_positive("cs_denominator_eps", cs_denominator_eps, allow_zero=True)
    dtype = torch.promote_types(x.dtype, torch.float32)
    x, y = x.to(dtype), y.to(dtype)
    n = x.shape[0]
    taps = gaussian_window_1d(window_size, sigma, dtype=dtype, device=x.device)
    # One filtering call for the five moment maps.
    moments = separable_filter(torch.cat([x, y, x * x, y * y, x * y], dim=0), taps, padding)
    mu_x, mu_y, e_xx, e_yy, e_xy = moments.split(n, dim=0)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x, var_y, cov_xy = e_xx - mu_xx, e_yy - mu_yy, e_xy - mu_xy
    lum = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1)
    cs = (2 * cov_xy + c2) / (var_x + var_y + c2 + cs_denominator_eps)
    return lum, cs


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 2.0,
    window_size: int = 11,
    sigma: float = 1.5,
    padding: str = "valid",
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Mean SSIM per image over channels and pixels, ``(N,)``.

    With the defaults and ``padding='valid'`` this equals
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=R, channel_axis=...)``.
    """
    lum, cs = ssim_components(x, y, data_range, window_size, sigma, padding, k1, k2)
    return (lum * cs).mean(dim=(1, 2, 3))


def dq_from_components(lum: torch.Tensor, cs: torch.Tensor, color_mode: str = "per_channel",
                       pooling: str = "sqrt_mean") -> torch.Tensor:
    """Pool ``2 - L - CS`` into one distance per image, ``(N,)``.

    Channels are combined as an RMS of per-channel local distances (keeps the
    metric property); ``mean_sqrt`` is the mean of per-pixel distances (authors),
    ``sqrt_mean`` the root of the mean squared local distance (Brunet's
    l2-aggregation). The radicand is clamped at 0 only against round-off:
    mathematically ``2 - L - CS >= 0`` whenever ``eps_cs >= 0``.
    """
    check_choice("pooling", pooling, POOLINGS)
    sq = (2.0 - lum - cs).clamp_min(0.0)
    if pooling == "sqrt_mean":
        return sq.mean(dim=(1, 2, 3)).sqrt()
    return sq.mean(dim=1).sqrt().mean(dim=(1, 2))


def dq_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    variant: str = "paper",
    data_range: float = 2.0,
    window_size: int = None,
    sigma: float = 1.5,
    padding: str = None,
    color_mode: str = None,
    pooling: str = None,
    cs_denominator_eps: float = None,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """The SSIM-derived distance ``dQ(x, y)`` per image, ``(N,)``.

    Variants (each argument left ``None`` takes the variant's value):

    =====================  =====================  ===============================
    argument               ``paper``              ``authors`` (QAGAN TF code)
    =====================  =====================  ===============================
    window_size            11 (odd, symmetric)    8 (grid -3..4, asymmetric)
    padding                ``valid``              ``zero`` (TF ``SAME``)
    color_mode             ``per_channel`` (RMS)  ``luma`` (BT.601 on [-1, 1])
    pooling                ``sqrt_mean``          ``mean_sqrt``
    cs_denominator_eps     0                      0.01
    =====================  =====================  ===============================

    The paper variant is Brunet et al.'s metric: ``dQ(x, x) = 0``, symmetric,
    triangle inequality. The authors' +0.01 breaks ``dQ(x, x) = 0`` (0.857 on flat
    images). Values lie in ``[0, 2)``.

    Args:
        x, y: ``(N, C, H, W)`` with C = 1 or 3 for ``luma``, any C otherwise.

    Returns:
        ``(N,)`` in float32 (float64 for float64 input). Not differentiable where a
        local distance is 0 (sqrt); SSIM-GP computes it under ``no_grad``.
    """
    check_choice("variant", variant, ("paper", "authors"))
    authors = variant == "authors"
    window_size = window_size if window_size is not None else (8 if authors else 11)
    padding = padding if padding is not None else ("zero" if authors else "valid")
    color_mode = color_mode if color_mode is not None else ("luma" if authors else "per_channel")
    pooling = pooling if pooling is not None else ("mean_sqrt" if authors else "sqrt_mean")
    cs_eps = cs_denominator_eps if cs_denominator_eps is not None else (0.01 if authors else 0.0)
    check_choice("color_mode", color_mode, COLOR_MODES)
    check_tensor("x", x, ndim=(4,))
    check_tensor("y", y, ndim=(4,))
    if color_mode == "luma":
        x, y = to_luma(x), to_luma(y)
    lum, cs = ssim_components(x, y, data_range, window_size, sigma, padding, k1, k2, cs_eps)
    return dq_from_components(lum, cs, color_mode, pooling)
