"""Sobolev filter, dual exponents and numerically stable L^p norms (Banach WGAN).

Reference:
    Adler, Lunz, "Banach Wasserstein GAN", NeurIPS 2018 (arXiv 1806.06621), and
    the authors' code ``adler-j/bwgan`` (``sobolev_filter``, ``stable_norm``).

The W^{s,p} norm of an image ``f`` is ``|| F^{-1}[(1 + c |xi|^2)^{s/2} F f] ||_p``
with the discrete, periodic frequency grid of the authors' code: per axis of
length N, ``xi_k = min(k, N - k) / floor(N / 2)`` in [0, 1], and ``c = 5``. The
dual space of W^{s,p} under the L^2 pairing is W^{-s,q} with ``1/p + 1/q = 1``.
"""
import math

import torch

from ._checks import check_tensor

def dual_exponent(p: float) -> float:
    """``q = p / (p - 1)``; ``p = 1 -> inf``, ``p = inf -> 1``."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 1:
        raise ValueError(f"p: expected a number >= 1 (or inf), got {p!r}")
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1.0)


def _frequency_sq(n: int, one_sided: bool, dtype, device) -> torch.Tensor:
    k = torch.arange(n // 2 + 1 if one_sided else n, dtype=dtype, device=device)
    return (torch.minimum(k, n - k) / max(n // 2, 1)) ** 2


def sobolev_multiplier(h: int, w: int, s: float, c: float = 5.0, dtype=torch.float32, device=None) -> torch.Tensor:
    """``(1 + c (xi_y^2 + xi_x^2))^{s/2}`` on the ``rfft2`` grid, shape ``(h, w//2 + 1)``."""
    xi2 = _frequency_sq(h, False, torch.float64, device)[:, None] + _frequency_sq(w, True, torch.float64, device)[None, :]
    return ((1.0 + c * xi2) ** (s / 2.0)).to(dtype)


def sobolev_filter(x: torch.Tensor, s: float, c: float = 5.0) -> torch.Tensor:
    """Apply the Sobolev multiplier of order ``s`` to every channel, via ``torch.fft``.

    Args:
        x: ``(N, C, H, W)`` real tensor (float16/bfloat16 are computed in float32).
        s: smoothness order; ``s = 0`` is the identity, negative ``s`` smooths.
        c: frequency scaling (the authors' 5).
    Returns:
        ``(N, C, H, W)`` in ``x``'s dtype (at least float32). Constants (zero
        frequency) pass unchanged; a Nyquist checkerboard is scaled by ``11^{s/2}``.
    """
    check_tensor("x", x, ndim=(4,))
    if not isinstance(s, (int, float)) or not math.isfinite(s):
        raise ValueError(f"s: expected a finite number, got {s!r}")
    if s == 0:
        return x
    dtype = torch.promote_types(x.dtype, torch.float32)
    h, w = x.shape[-2:]
    spec = torch.fft.rfft2(x.to(dtype))
    spec = spec * sobolev_multiplier(h, w, s, c, dtype, x.device)
    return torch.fft.irfft2(spec, s=(h, w))


def stable_norm(x: torch.Tensor, p: float, dim=(1, 2, 3)) -> torch.Tensor:
    """``||x||_p`` over ``dim`` (counting measure), stable for large ``p``.

    Computes ``a ||x / a||_p`` with ``a = max|x| + 1e-5`` (detached: the norm is
    1-homogeneous, so the gradient does not depend on ``a``); ``p = inf`` is the
    max-abs. A zero input gives exactly 0 with a zero gradient.
    """
    check_tensor("x", x)
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not p >= 1:
        raise ValueError(f"p: expected a number >= 1 (or inf), got {p!r}")
    dtype = torch.promote_types(x.dtype, torch.float32)
    x = x.to(dtype)
    mag = x.abs()
    if math.isinf(p):
        return mag.amax(dim=dim)
    a = mag.detach().amax(dim=dim, keepdim=True) + 1e-5
    total = ((mag / a) ** p).sum(dim=dim)
    # the root's derivative is infinite at 0: take it of 1 there and mask (no NaN)
    nonzero = total > 0
    root = torch.where(nonzero, total, torch.ones_like(total)) ** (1.0 / p)
    return a.reshape(total.shape) * torch.where(nonzero, root, torch.zeros_like(root))


def sobolev_norm(x: torch.Tensor, s: float, p: float, c: float = 5.0) -> torch.Tensor:
    """``||x||_{W^{s,p}}`` per sample, ``(N,)``."""
    return stable_norm(sobolev_filter(x, s, c), p)


def dual_sobolev_norm(x: torch.Tensor, s: float, p: float, c: float = 5.0) -> torch.Tensor:
    """Dual norm in ``(W^{s,p})^* = W^{-s,q}``: ``||F_{-s} x||_q`` per sample, ``(N,)``."""
    return stable_norm(sobolev_filter(x, -s, c), dual_exponent(p))
