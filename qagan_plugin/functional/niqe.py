"""NIQE: MSCN coefficients, GGD/AGGD fits, patch features, MVG fit and distance.

Reference:
    Mittal, Soundararajan, Bovik, "Making a 'Completely Blind' Image Quality
    Analyzer", IEEE Signal Processing Letters 20(3):209-212, 2013, and the
    MATLAB release (computefeature.m, estimateaggdparam.m, computequality.m).

Everything is batched: features of all patches of all images come out of one
call, without Python loops over images or patches. Differentiable everywhere
training needs it; the GGD/AGGD shape is the exact inverse of

    rho(a) = Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))

found by safeguarded Newton iterations on detached values, with the gradient
from the implicit function theorem, ``d alpha / d r = 1 / rho'(alpha)``.

Numerical guards (documented, tested; no ``nan_to_num`` on results): square
roots take ``clamp_min(TINY)`` arguments, and an AGGD side without samples gets
the width ``sqrt(TINY)`` instead of MATLAB's NaN (MATLAB drops such patches
with ``nanmean``/``nancov``; natural images never produce one).
"""
import math
from typing import Optional, Tuple

import torch

from ._checks import check_choice, check_positive, check_tensor
from .filters import PADDING_MODES, downsample_half, gaussian_window_1d, separable_filter

TINY = 1e-12
SHAPE_BOUNDS = (0.2, 10.0)  # MATLAB's grid 0.2:0.001:10
# MATLAB rgb2gray weights (the exact inverse of the NTSC transform's first row).
MATLAB_GRAY_WEIGHTS = (0.298936021293775, 0.587043074451121, 0.114020904255103)


# ----------------------------------------------------------------------------- MSCN
def mscn(
    x: torch.Tensor,
    window_size: int = 7,
    sigma: float = 7.0 / 6.0,
    c: float = 1.0,
    padding: str = "replicate",
    denominator: str = "std",
) -> torch.Tensor:
    """Mean-subtracted contrast-normalised coefficients ``(x - mu) / (s + c)``.

    Args:
        x: ``(N, C, H, W)``; NIQE's ``c = 1`` assumes intensities in [0, 255].
        window_size, sigma: Gaussian window (MATLAB NIQE: 7, 7/6).
        padding: boundary handling of the local moments (MATLAB: ``replicate``).
        denominator: ``std`` (``s = sqrt|w*x^2 - mu^2|``, MATLAB) or ``var``
            (``s = w*x^2 - mu^2``, the QAGAN authors' code).

    Returns:
        ``(N, C, H, W)``.
    """
    check_tensor("x", x, ndim=(4,))
    check_choice("denominator", denominator, ("std", "var"))
    check_choice("padding", padding, PADDING_MODES[1:])
    taps = gaussian_window_1d(window_size, sigma, dtype=x.dtype, device=x.device)
    n = x.shape[0]
    mu, e_xx = separable_filter(torch.cat([x, x * x], dim=0), taps, padding).split(n, dim=0)
    var = e_xx - mu * mu
    if denominator == "std":
        scale = var.abs().clamp_min(TINY).sqrt()
    else:
        scale = var
    return (x - mu) / (scale + c)


# ---------------------------------------------------------------- shape inverse
def rho(alpha: torch.Tensor) -> torch.Tensor:
    """``rho(a) = Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))``, increasing from 0 to 3/4."""
    inv = 1.0 / alpha
    return torch.exp(2 * torch.lgamma(2 * inv) - torch.lgamma(inv) - torch.lgamma(3 * inv))


def rho_derivative(alpha: torch.Tensor) -> torch.Tensor:
    """``d rho / d a = rho(a) (psi(1/a) + 3 psi(3/a) - 4 psi(2/a)) / a^2`` (psi = digamma)."""
    inv = 1.0 / alpha
    return rho(alpha) * (torch.digamma(inv) + 3 * torch.digamma(3 * inv)
                         - 4 * torch.digamma(2 * inv)) * inv * inv


def _solve_shape(r: torch.Tensor, lo: float, hi: float, tol: float = 1e-13, max_iter: int = 60) -> torch.Tensor:
    """Exact ``rho^{-1}(r)`` in float64, clamped to ``[lo, hi]``: Newton in log(a), bisection fallback."""
    r = r.detach().to(torch.float64)
    t_lo = torch.full_like(r, math.log(lo))
    t_hi = torch.full_like(r, math.log(hi))
    r = r.clamp(float(rho(torch.tensor(lo, dtype=torch.float64))), float(rho(torch.tensor(hi, dtype=torch.float64))))
    t = 0.5 * (t_lo + t_hi)
    for _ in range(max_iter):
        a = t.exp()
        f = rho(a) - r
        # f is increasing in t: shrink the bracket, then try Newton inside it.
        t_lo = torch.where(f < 0, t, t_lo)
        t_hi = torch.where(f > 0, t, t_hi)
        slope = rho_derivative(a) * a  # d rho / d t
        t_newton = t - f / slope
        inside = (t_newton > t_lo) & (t_newton < t_hi) & torch.isfinite(t_newton)
        t_next = torch.where(inside, t_newton, 0.5 * (t_lo + t_hi))
        if bool((f.abs() <= tol).all()):
            break
        t = t_next
    return t.exp().clamp(lo, hi)


def _grid_shape(r: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """MATLAB's ``argmin_a (rho(a) - r)^2`` over ``a = lo:0.001:hi`` (not differentiable)."""
    grid = torch.arange(round(lo * 1000), round(hi * 1000) + 1, dtype=torch.float64, device=r.device) / 1000
    table = rho(grid)
    r64 = r.detach().to(torch.float64)
    idx = torch.searchsorted(table, r64.reshape(-1)).clamp(1, grid.numel() - 1)
    left, right = table[idx - 1], table[idx]
    rr = r64.reshape(-1)
    # ties go to the first (smaller) grid point, as MATLAB's min does
    pick = torch.where((rr - left) ** 2 <= (right - rr) ** 2, idx - 1, idx)
    return grid[pick].reshape(r.shape)


class _ExactShapeInverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, r, lo, hi):
        alpha = _solve_shape(r, lo, hi)
        r64 = r.detach().to(torch.float64)
        bounds = rho(torch.tensor([lo, hi], dtype=torch.float64, device=r.device))
        # on a bound exactly when r was clamped: there alpha does not move with r
        interior = (r64 > bounds[0]) & (r64 < bounds[1])
        alpha = torch.where(r64 <= bounds[0], torch.full_like(alpha, lo), alpha)
        alpha = torch.where(r64 >= bounds[1], torch.full_like(alpha, hi), alpha)
        ctx.save_for_backward(alpha, interior)
        return alpha.to(r.dtype)

    @staticmethod
    def backward(ctx, grad_alpha):
        alpha, interior = ctx.saved_tensors
        # implicit function theorem; zero where the solution sits on a bound
        d_alpha_d_r = torch.where(interior, 1.0 / rho_derivative(alpha), torch.zeros_like(alpha))
        return grad_alpha * d_alpha_d_r.to(grad_alpha.dtype), None, None


def shape_inverse(r: torch.Tensor, method: str = "exact", bounds: Tuple[float, float] = SHAPE_BOUNDS) -> torch.Tensor:
    """Solve ``rho(alpha) = r`` for the generalised-Gaussian shape ``alpha``.

    Args:
        r: any shape, values in (0, 3/4); clamped to ``[rho(lo), rho(hi)]``.
        method: ``exact`` (differentiable, to 1e-13 in rho) or ``grid`` (MATLAB's
            0.001 grid search, no gradient).
        bounds: ``(lo, hi)``; MATLAB searches [0.2, 10].
    """
    check_tensor("r", r)
    check_choice("method", method, ("exact", "grid"))
    lo, hi = float(bounds[0]), float(bounds[1])
    if not 0 < lo < hi:
        raise ValueError(f"bounds: expected 0 < lo < hi, got {bounds!r}")
    if method == "grid":
        return _grid_shape(r, lo, hi).to(r.dtype)
    return _ExactShapeInverse.apply(r, lo, hi)


def _gamma_ratio(num: float, den: float, alpha: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.lgamma(num / alpha) - torch.lgamma(den / alpha))


# ------------------------------------------------------------------- GGD / AGGD
def ggd_fit(x: torch.Tensor, shape_method: str = "exact") -> Tuple[torch.Tensor, torch.Tensor]:
    """Moment-matching generalised Gaussian fit over the last dim.

    ``alpha = rho^{-1}((E|x|)^2 / E x^2)``,
    ``sigma = sqrt(E x^2)`` (BRISQUE's GGD parameters).

    Args:
        x: ``(..., n)``.
    Returns:
        ``(alpha, sigma)``, each ``(...)``.
    """
    check_tensor("x", x)
    m1 = x.abs().mean(-1)
    m2 = (x * x).mean(-1)
    alpha = shape_inverse(m1 * m1 / m2.clamp_min(TINY), shape_method)
    return alpha, m2.clamp_min(TINY).sqrt()


def aggd_fit(x: torch.Tensor, shape_method: str = "exact") -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric generalised Gaussian fit over the last dim (MATLAB ``estimateaggdparam``).

    ::

        s_l = sqrt(mean(x[x<0]^2)),  s_r = sqrt(mean(x[x>0]^2)),  g = s_l / s_r
        r = mean|x|^2 / mean x^2,    R = r (g^3 + 1)(g + 1) / (g^2 + 1)^2
        alpha = rho^{-1}(R),         beta_{l,r} = s_{l,r} sqrt(Gamma(1/alpha) / Gamma(3/alpha))

    Args:
        x: ``(..., n)``.
    Returns:
        ``(alpha, beta_l, beta_r)``, each ``(...)``.
    """
    check_tensor("x", x)
    sq = x * x
    neg = (x < 0).to(x.dtype)
    pos = (x > 0).to(x.dtype)
    s_l = ((sq * neg).sum(-1) / neg.sum(-1).clamp_min(1.0)).clamp_min(TINY).sqrt()
    s_r = ((sq * pos).sum(-1) / pos.sum(-1).clamp_min(1.0)).clamp_min(TINY).sqrt()
    g = s_l / s_r
    m1 = x.abs().mean(-1)
    r = m1 * m1 / sq.mean(-1).clamp_min(TINY)
    big_r = r * (g ** 3 + 1) * (g + 1) / (g * g + 1) ** 2
    alpha = shape_inverse(big_r, shape_method)
    ratio = _gamma_ratio(1.0, 3.0, alpha).sqrt()
    return alpha, s_l * ratio, s_r * ratio


# ------------------------------------------------------------------- features
NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # H, V, D1, D2 as MATLAB's circshift


def patch_features(coeffs: torch.Tensor, shape_method: str = "exact") -> torch.Tensor:
    """The 18 NIQE features of MSCN patches.

    ``[alpha, (beta_l + beta_r)/2]`` of the coefficients, then for each neighbour
    product (horizontal, vertical, two diagonals; circular shift inside the patch
    as MATLAB) ``[alpha, eta, beta_l, beta_r]`` with
    ``eta = (beta_r - beta_l) Gamma(2/alpha) / Gamma(1/alpha)``.

    Args:
        coeffs: ``(..., p, p)`` MSCN patches.
    Returns:
        ``(..., 18)``.
    """
    check_tensor("coeffs", coeffs)
    maps = [coeffs] + [coeffs * torch.roll(coeffs, shifts=s, dims=(-2, -1)) for s in NEIGHBOUR_SHIFTS]
    # one AGGD fit (one shape solve) for the five maps of every patch
    alpha, beta_l, beta_r = aggd_fit(torch.stack(maps, dim=-3).flatten(-2), shape_method)
    first = torch.stack([alpha[..., 0], 0.5 * (beta_l[..., 0] + beta_r[..., 0])], dim=-1)
    a, bl, br = alpha[..., 1:], beta_l[..., 1:], beta_r[..., 1:]
    eta = (br - bl) * _gamma_ratio(2.0, 1.0, a)
    rest = torch.stack([a, eta, bl, br], dim=-1).flatten(-2)
    return torch.cat([first, rest], dim=-1)


def extract_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(N, 1, H, W) -> (N, P, p, p)`` non-overlapping patches in raster order.

    H and W must be multiples of ``patch_size`` (crop first).
    """
    n, _, h, w = x.shape
    nh, nw = h // patch_size, w // patch_size
    return (x.reshape(n, nh, patch_size, nw, patch_size).permute(0, 1, 3, 2, 4)
            .reshape(n, nh * nw, patch_size, patch_size))


def niqe_features(
    x: torch.Tensor,
    patch_size: int = 96,
    mscn_c: float = 1.0,
    window_size: int = 7,
    sigma: float = 7.0 / 6.0,
    padding: str = "replicate",
    downsample: str = "bicubic",
    shape_method: str = "exact",
) -> torch.Tensor:
    """The 36 NIQE features of every ``patch_size`` patch at 2 scales.

    The image is cropped to a multiple of ``patch_size`` (top-left kept, as
    MATLAB's ``computequality``); scale 2 is ``downsample_half`` of the cropped
    image with patches of ``patch_size/2`` covering the same regions.

    Args:
        x: ``(N, 1, H, W)`` grey images (NIQE's ``mscn_c = 1`` assumes [0, 255]).
        patch_size: even, >= 8, at most ``min(H, W)``.

    Returns:
        ``(N, P, 36)``, ``P = (H // p) * (W // p)``.
    """
    check_tensor("x", x, ndim=(4,))
    if x.shape[1] != 1:
        raise ValueError(f"x: expected one channel (grey images), got shape {tuple(x.shape)}")
    if not isinstance(patch_size, int) or patch_size < 8 or patch_size % 2:
        raise ValueError(f"patch_size: expected an even int >= 8, got {patch_size!r}")
    h, w = x.shape[-2:]
    if h < patch_size or w < patch_size:
        raise ValueError(f"x: image size {h}x{w} is smaller than one {patch_size}x{patch_size} NIQE patch "
                         f"(use a smaller patch_size or larger images)")
    x = x[..., : (h // patch_size) * patch_size, : (w // patch_size) * patch_size]
    feats = []
    for scale in (1, 2):
        if scale == 2:
            x = downsample_half(x, downsample)
        coeffs = mscn(x, window_size, sigma, mscn_c, padding)
        feats.append(patch_features(extract_patches(coeffs, patch_size // scale), shape_method))
    return torch.cat(feats, dim=-1)


# ------------------------------------------------------------------- MVG
def mvg_fit(features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance over the sample dim (MATLAB ``nanmean``/``nancov``).

    Args:
        features: ``(..., n, d)``.
    Returns:
        ``mu (..., d)``, ``cov (..., d, d)``; one sample gives a zero covariance.
    """
    check_tensor("features", features)
    if features.dim() < 2:
        raise ValueError(f"features: expected (..., n, d), got shape {tuple(features.shape)}")
    n = features.shape[-2]
    mu = features.mean(dim=-2)
    centred = features - mu.unsqueeze(-2)
    cov = centred.transpose(-1, -2) @ centred / max(n - 1, 1)
    return mu, cov


def niqe_distance(
    mu_p: torch.Tensor,
    cov_p: torch.Tensor,
    mu_t: torch.Tensor,
    cov_t: torch.Tensor,
    inverse: str = "pinv",
    jitter: float = 1e-6,
) -> torch.Tensor:
    """``sqrt((mu_p - mu_t)^T ((cov_p + cov_t)/2)^+ (mu_p - mu_t))``, computed in float64.

    Args:
        mu_p, cov_p: pristine model ``(d,)``, ``(d, d)``.
        mu_t, cov_t: test model ``(..., d)``, ``(..., d, d)``.
        inverse: ``pinv`` (Moore-Penrose, MATLAB) or ``cholesky`` (a Cholesky
            solve after adding ``jitter * mean(diag)`` to the diagonal; faster and
            with smoother gradients; the pooled matrix is positive definite when
            ``cov_p`` is).
    Returns:
        ``(...)`` in the dtype of ``mu_t`` (at least float32).
    """
    for name, t in (("mu_p", mu_p), ("cov_p", cov_p), ("mu_t", mu_t), ("cov_t", cov_t)):
        check_tensor(name, t)
    check_choice("inverse", inverse, ("pinv", "cholesky"))
    d = mu_p.shape[-1]
    if cov_p.shape[-2:] != (d, d) or mu_t.shape[-1] != d or cov_t.shape[-2:] != (d, d):
        raise ValueError(f"niqe_distance: expected mu (.., {d}) and cov (.., {d}, {d}), got mu_p "
                         f"{tuple(mu_p.shape)}, cov_p {tuple(cov_p.shape)}, mu_t {tuple(mu_t.shape)}, "
                         f"cov_t {tuple(cov_t.shape)}")
    out_dtype = torch.promote_types(mu_t.dtype, torch.float32)
    f64 = torch.float64
    diff = (mu_p.to(f64) - mu_t.to(f64)).unsqueeze(-1)
    pooled = 0.5 * (cov_p.to(f64) + cov_t.to(f64))
    if inverse == "pinv":
        q = diff.transpose(-1, -2) @ torch.linalg.pinv(pooled, hermitian=True) @ diff
    else:
        eye = torch.eye(d, dtype=f64, device=pooled.device)
        scale = pooled.diagonal(dim1=-2, dim2=-1).mean(-1).abs().clamp_min(TINY)
        chol = torch.linalg.cholesky(pooled + jitter * scale[..., None, None] * eye)
        q = diff.transpose(-1, -2) @ torch.cholesky_solve(diff, chol)
    return q.squeeze(-1).squeeze(-1).clamp_min(TINY).sqrt().to(out_dtype)


# ------------------------------------------------------------------- the score
def rgb_to_gray_matlab(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2gray`` weights on ``(N, 3, H, W)`` (no rounding)."""
    w = torch.tensor(MATLAB_GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def niqe(
    images: torch.Tensor,
    data_range: float = 255.0,
    patch_size: int = 96,
    quantize: bool = False,
    model: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    shape_method: str = "exact",
    inverse: str = "pinv",
) -> torch.Tensor:
    """Standard NIQE score per image (lower is more natural), ``(N,)``.

    Agrees with the MATLAB release (``niqe.m``/``computequality.m`` with the
    shipped ``modelparameters.mat``, patch 96): grey conversion with MATLAB's
    ``rgb2gray`` weights, 7x7 Gaussian MSCN (sigma 7/6, replicate, std + 1), 36
    features per patch at 2 scales (MATLAB's antialiased bicubic ``imresize(.,
    0.5)``), MVG over the image's patches, pseudo-inverse of the pooled
    covariance. Differences to MATLAB come only from the exact (instead of
    0.001-grid) AGGD shape; ``shape_method='grid'`` reproduces the grid.

    Args:
        images: ``(N, 1, H, W)`` or ``(N, 3, H, W)`` with values in
            ``[0, data_range]``; at least ``patch_size`` high and wide.
        data_range: 255 for 8-bit values, 1 for [0, 1] tensors.
        quantize: round the grey image to integers in [0, 255], as MATLAB does
            for a ``uint8`` image read from a file.
        model: ``(mu, cov)``; default the shipped natural-scene model.

    Returns:
        ``(N,)`` in float32 (float64 for float64 input). Differentiable with
        respect to ``images`` unless ``quantize`` or ``shape_method='grid'``.
    """
    check_tensor("images", images, ndim=(4,), finite=True)
    if images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected 1 (grey) or 3 (RGB) channels, got shape {tuple(images.shape)}")
    check_positive("data_range", data_range)
    x = images.to(torch.promote_types(images.dtype, torch.float32)) * (255.0 / data_range)
    if x.shape[1] == 3:
        x = rgb_to_gray_matlab(x)
    if quantize:
        x = x.clamp(0, 255).round()
    feats = niqe_features(x, patch_size=patch_size, shape_method=shape_method)
    mu_t, cov_t = mvg_fit(feats.to(torch.float64))
    if model is None:
        from ..data import natural_scene_model  # package data; loaded once and cached

        model = natural_scene_model(device=x.device)
    mu_p, cov_p = model
    return niqe_distance(mu_p, cov_p, mu_t, cov_t, inverse=inverse).to(x.dtype)
