"""Gaussian windows and separable filtering with explicit boundary handling.

All functions work on ``(N, C, H, W)`` tensors and filter every channel
independently (channels are folded into the batch, so one ``conv2d`` call
serves any number of maps).
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F

from ._checks import check_choice, check_tensor

PADDING_MODES = ("valid", "zero", "replicate", "reflect", "symmetric", "circular")


def gaussian_window_1d(size: int, sigma: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """1-D Gaussian taps on the integer grid ``{-(size-1)//2, ..., size//2}``, summing to 1.

    For odd ``size`` the grid is symmetric (MATLAB ``fspecial('gaussian')``).
    For even ``size`` it has one extra tap on the positive side, which is the
    grid of the QAGAN authors' 8x8 window (``np.mgrid[-size//2+1:size//2+1]``).
    The 2-D window is the outer product of this vector with itself, because a
    circular Gaussian is separable.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size: expected an int >= 1, got {size!r}")
    if not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ValueError(f"sigma: expected a number > 0, got {sigma!r}")
    grid = torch.arange(-((size - 1) // 2), size // 2 + 1, dtype=torch.float64)
    taps = torch.exp(-(grid ** 2) / (2.0 * float(sigma) ** 2))
    return (taps / taps.sum()).to(dtype=dtype, device=device)


def _symmetric_index(n: int, before: int, after: int, device) -> torch.Tensor:
    # MATLAB 'symmetric': the border sample is repeated (half-sample symmetry).
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def pad2d(x: torch.Tensor, pad: Tuple[int, int, int, int], mode: str) -> torch.Tensor:
    """Pad the last two dims by ``(left, right, top, bottom)`` with ``mode``.

    ``mode``: ``zero``, ``replicate``, ``reflect`` (mirror without repeating the
    edge), ``symmetric`` (mirror repeating the edge, MATLAB's 'symmetric') or
    ``circular``.
    """
    if not any(pad):
        return x
    if mode == "zero":
        return F.pad(x, pad, mode="constant", value=0.0)
    if mode in ("replicate", "reflect", "circular"):
        return F.pad(x, pad, mode=mode)
    if mode == "symmetric":
        left, right, top, bottom = pad
        rows = _symmetric_index(x.shape[-2], top, bottom, x.device)
        cols = _symmetric_index(x.shape[-1], left, right, x.device)
        return x.index_select(-2, rows).index_select(-1, cols)
    raise ValueError(f"mode: expected one of {list(PADDING_MODES[1:])}, got {mode!r}")


# Up to this size two banded-matrix products (BLAS) beat depthwise conv2d on CPUs, forward and
# backward (64x3x32x32: ~10x; 16x15x256x256: 116 vs 129 ms grouped, 563 ms one-channel conv; the
# backward 242 vs 286 vs 2109 ms); above it the convolution's fewer flops win.
MATMUL_MAX_SIZE = 512


def band_matrix(n_in: int, taps: torch.Tensor) -> torch.Tensor:
    """``(n_in - k + 1, n_in)`` matrix ``M`` with ``(M v)[i] = sum_j taps[j] v[i + j]`` (valid correlation)."""
    k = taps.numel()
    n_out = n_in - k + 1
    idx = torch.arange(n_out, device=taps.device)[:, None] + torch.arange(k, device=taps.device)[None, :]
    return torch.zeros(n_out, n_in, dtype=taps.dtype, device=taps.device).scatter_(1, idx, taps.expand(n_out, k))


def separable_filter(x: torch.Tensor, taps: torch.Tensor, padding: str = "valid") -> torch.Tensor:
    """Correlate every channel of ``x`` with ``taps`` along H and then along W.

    Args:
        x: ``(N, C, H, W)``.
        taps: 1-D kernel of length ``k``; the 2-D kernel is ``outer(taps, taps)``.
        padding: ``valid`` (output ``H-k+1``) or a padding mode of :func:`pad2d`
            giving a ``same``-size output. For even ``k`` the padding is
            ``(k-1)//2`` before and ``k//2`` after, as TensorFlow's ``SAME``.

    Returns:
        ``(N, C, H', W')`` in the dtype of ``x``. Small maps are filtered as two
        banded-matrix products (``M_h X M_w^T``), larger ones with two 1-D convolutions.
    """
    check_tensor("x", x, ndim=(4,))
    check_choice("padding", padding, PADDING_MODES)
    n, c, h, w = x.shape
    k = taps.numel()
    if padding == "valid" and (h < k or w < k):
        raise ValueError(f"x: spatial size {h}x{w} is too small for a {k}x{k} window with valid padding")
    if padding != "valid":
        before, after = (k - 1) // 2, k // 2
        x = pad2d(x, (before, after, before, after), padding)
    taps = taps.to(dtype=x.dtype, device=x.device)
    hp, wp = x.shape[-2:]
    if max(hp, wp) <= MATMUL_MAX_SIZE:
        return band_matrix(hp, taps) @ x @ band_matrix(wp, taps).T
    y = F.conv2d(x, taps.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(y, taps.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


# MATLAB imresize(., 0.5) with its default bicubic kernel and antialiasing.
def _matlab_cubic(t: torch.Tensor) -> torch.Tensor:
    a = t.abs()
    return ((1.5 * a ** 3 - 2.5 * a ** 2 + 1) * (a <= 1)
            + (-0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


def matlab_half_taps(dtype=torch.float64, device=None) -> torch.Tensor:
    """The 8 taps MATLAB's ``imresize(I, 0.5)`` (bicubic, antialiasing) applies.

    With scale 1/2 MATLAB widens the cubic kernel to 8 samples:
    ``h(d) = cubic(d/2)/2`` at distances ``d = +-0.5, +-1.5, +-2.5, +-3.5`` from the
    output centre, normalised to sum 1.
    """
    d = torch.tensor([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], dtype=torch.float64)
    w = _matlab_cubic(d / 2) / 2
    return (w / w.sum()).to(dtype=dtype, device=device)


def downsample_half(x: torch.Tensor, method: str = "bicubic") -> torch.Tensor:
    """Halve H and W of an ``(N, C, H, W)`` tensor.

    ``bicubic``: exactly MATLAB's ``imresize(I, 0.5)`` (antialiased bicubic with
    symmetric boundary) for even sizes; odd sizes take ``ceil(H/2)`` rows as MATLAB
    does. ``avgpool``: 2x2 mean pooling. ``decimate``: ``x[..., ::2, ::2]``, which is
    what TF1's ``resize_bilinear`` computes for an integer factor.
    """
    check_tensor("x", x, ndim=(4,))
    check_choice("method", method, ("bicubic", "avgpool", "decimate"))
    if method == "avgpool":
        return F.avg_pool2d(x, 2)
    if method == "decimate":
        return x[..., ::2, ::2]
    n, c, h, w = x.shape
    taps = matlab_half_taps(dtype=x.dtype, device=x.device)
    # Output pixel k is centred between input pixels 2k and 2k+1; taps reach
    # 3 samples before and 4 after, so pad 3 (+1 for odd sizes) symmetrically.
    y = pad2d(x.reshape(n * c, 1, h, w), (3, 3 + (w % 2), 3, 3 + (h % 2)), "symmetric")
    y = F.conv2d(y, taps.view(1, 1, 8, 1), stride=(2, 1))
    y = F.conv2d(y, taps.view(1, 1, 1, 8), stride=(1, 2))
    return y.reshape(n, c, math.ceil(h / 2), math.ceil(w / 2))
