"""The QAGAN authors' NIQE of critic gradient maps, reproduced bug for bug.

Source: ``lfovia/QAGANS`` ``QAGAN-NIQE/NIQE_penalty.py`` (TensorFlow 1.10), as
used by ``*_NIQE_GP.py``: ``niqe(tf.image.rgb_to_grayscale(gradients), res)``.
Every departure from MATLAB NIQE is kept on purpose (methods-spec.md section
3.3): 3x3 Gaussian (sigma 0.5) with zero padding and *variance* + 1; the second
scale by TF1 ``resize_bilinear`` (pure decimation for integer factors); one
block per scale spanning the whole batch (the top-left ``res`` square at scale
1); neighbour products rolled over the (batch, row) axes in the order
``[0,1], [1,1], [1,0], [1,-1]``; "std" ``= sqrt(1/(n-1)) * sum(x^2)``; only the
first branch of the Dominguez-Molina shape inverse; ``beta = std Gamma(3/a) /
Gamma(1/a)`` with left and right swapped by the caller; ``eta`` with
``Gamma(3/a)``, and for the last product from the previous product's fit; one
feature vector per batch, ``Sigma_T = 0`` and a plain inverse.

Only three guards are ours, all where the TF code yields Inf/NaN: ``n - 1`` is
clamped at 1, ``R`` at ``[1e-6, 0.86]`` so the logarithm stays finite, and
``alpha`` at MATLAB's ``[0.2, 10]`` so ``Gamma(3/alpha)/Gamma(1/alpha)`` cannot
overflow (an all-zero or very sparse map gives ``alpha`` near 0.04 otherwise).
"""
from typing import Tuple

import torch

from ._checks import check_tensor
from .niqe import mscn

_LOG_27_16 = 0.5232481437645479  # log(27/16)
AUTHORS_SHIFTS = ((0, 1), (1, 1), (1, 0), (1, -1))


def tf1_resize_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TF1 ``resize_bilinear`` (no align_corners, no half-pixel centres) to ``size x size``."""
    def axis(n_in, n_out, device):
        src = torch.arange(n_out, dtype=torch.float64, device=device) * (n_in / n_out)
        i0 = src.floor().long().clamp(max=n_in - 1)
        i1 = (i0 + 1).clamp(max=n_in - 1)
        return i0, i1, (src - i0).to(x.dtype)

    r0, r1, fr = axis(x.shape[-2], size, x.device)
    c0, c1, fc = axis(x.shape[-1], size, x.device)
    rows = x.index_select(-2, r0) * (1 - fr[:, None]) + x.index_select(-2, r1) * fr[:, None]
    return rows.index_select(-1, c0) * (1 - fc) + rows.index_select(-1, c1) * fc


def _authors_aggd(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``estimate_aggd_params``: returns ``(alpha, beta_right, beta_left)`` in the authors' order."""
    flat = x.reshape(-1)
    sq = flat * flat
    neg = (flat < 0).to(flat.dtype)
    pos = (flat > 0).to(flat.dtype)
    n_l, n_r = neg.sum(), pos.sum()
    std_l = torch.where(n_l > 0, (sq * neg).sum() / (n_l - 1).clamp_min(1.0).sqrt(), flat.new_tensor(0.001))
    std_r = torch.where(n_r > 0, (sq * pos).sum() / (n_r - 1).clamp_min(1.0).sqrt(), flat.new_tensor(0.001))
    m1 = flat.abs().mean()
    r_hat = m1 * m1 / sq.mean().clamp_min(1e-30)
    y = std_l / std_r
    big_r = (r_hat * (y ** 3 + 1) * (y + 1) / (y * y + 1) ** 2).clamp(1e-6, 0.86)
    alpha = (2.0 * _LOG_27_16 / torch.log(3.0 / (4.0 * big_r * big_r))).clamp(0.2, 10.0)
    ratio = torch.exp(torch.lgamma(3.0 / alpha) - torch.lgamma(1.0 / alpha))
    return alpha, std_r * ratio, std_l * ratio


def _authors_block_features(block: torch.Tensor) -> torch.Tensor:
    """``compute_features`` on an ``(N, 1, h, w)`` block spanning the batch: ``(18,)``."""
    feats = []
    alpha, beta_left, beta_right = _authors_aggd(block)
    feats += [alpha, (beta_left + beta_right) / 2]
    for i, shift in enumerate(AUTHORS_SHIFTS):
        shifted = block * torch.roll(block, shifts=shift, dims=(0, 2))  # NHWC axes [0, 1]
        if i < 3:
            alpha, beta_left, beta_right = _authors_aggd(shifted)
            eta = (beta_right - beta_left) * torch.exp(torch.lgamma(3.0 / alpha) - torch.lgamma(1.0 / alpha))
        else:  # the authors compute eta before re-fitting the last product
            eta = (beta_right - beta_left) * torch.exp(torch.lgamma(3.0 / alpha) - torch.lgamma(1.0 / alpha))
            alpha, beta_left, beta_right = _authors_aggd(shifted)
        feats += [alpha, eta, beta_left, beta_right]
    return torch.stack(feats)


def authors_niqe_features(gray: torch.Tensor, res: int) -> torch.Tensor:
    """The authors' 36-vector of a batch of grey gradient maps.

    Args:
        gray: ``(N, 1, H, W)`` (TF ``rgb_to_grayscale`` of the gradients), H = W >= res.
        res: the ``res`` argument of the authors' ``niqe`` (32 for CIFAR-10 and
            CelebA, 48 for STL-10).
    Returns:
        ``(36,)``.
    """
    check_tensor("gray", gray, ndim=(4,))
    if gray.shape[1] != 1:
        raise ValueError(f"gray: expected one channel, got shape {tuple(gray.shape)}")
    if not isinstance(res, int) or res < 4 or res % 2 or res > min(gray.shape[-2:]):
        raise ValueError(f"res: expected an even int in [4, {min(gray.shape[-2:])}] (the map size), got {res!r}")
    feats = []
    x = gray
    for scale in (1, 2):
        if scale == 2:
            x = tf1_resize_bilinear(x, res // 2)
        coeffs = mscn(x, window_size=3, sigma=0.5, c=1.0, padding="zero", denominator="var")
        size = res // scale
        feats.append(_authors_block_features(coeffs[..., :size, :size]))
    return torch.cat(feats)


def authors_niqe_score(gray: torch.Tensor, res: int, mu_p: torch.Tensor, cov_p: torch.Tensor) -> torch.Tensor:
    """``sqrt((mu_p - f) inv(cov_p / 2) (mu_p - f)^T)``: one scalar per batch (authors' NIQE-GP)."""
    f = authors_niqe_features(gray, res)
    f = torch.where(torch.isnan(f), torch.zeros_like(f), f).to(torch.float64)
    diff = mu_p.to(torch.float64).reshape(-1) - f
    precision = torch.linalg.inv(cov_p.to(torch.float64) / 2)
    q = diff @ precision @ diff
    return q.clamp_min(1e-30).sqrt().to(torch.promote_types(gray.dtype, torch.float32))
