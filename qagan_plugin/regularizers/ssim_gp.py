"""SSIM-GP: the critic is asked to be 1-Lipschitz with respect to dQ.

Reference: Kancharla, Channappayya, "Quality Aware Generative Adversarial
Networks", NeurIPS 2019 (slides p.13; authors' ``*_SSIM_GP.py``)::

    SSIM-GP = E_{X ~ P_r, Y ~ P_G} ( |D(X) - D(Y)| / dQ(X, Y) - 1 )^2

two-sided, on index-paired real/fake images of the critic batch, reusing the
logits of the Wasserstein term. dQ depends on the images only, never on D, so
it is computed under ``no_grad`` and acts as a per-pair weight; it is clamped
from below by ``dq_min`` (default 1e-3) before the division.
"""
from typing import Optional

import torch

from ..functional._checks import check_positive, check_same_shape, check_tensor
from ..functional.ssim import dq_distance
from .gradient import CriticBatch, Regularizer, float32_math


def ssim_gp(d_real: torch.Tensor, d_fake: torch.Tensor, dq: torch.Tensor, dq_min: float = 1e-3) -> torch.Tensor:
    """``mean((|d_real - d_fake| / max(dq, dq_min) - 1)^2)``.

    Args:
        d_real, d_fake: ``(N,)`` critic logits of the paired real and fake images.
        dq: ``(N,)`` distances ``dQ(real_i, fake_i)`` (detached).
        dq_min: lower clamp of dQ (> 0), so identical pairs cannot divide by 0.
    Returns:
        scalar, float32.
    """
    for name, t in (("d_real", d_real), ("d_fake", d_fake), ("dq", dq)):
        check_tensor(name, t)
    d_real, d_fake = d_real.reshape(-1), d_fake.reshape(-1)
    check_same_shape("d_real", d_real, "d_fake", d_fake)
    if dq.reshape(-1).shape != d_real.shape:
        raise ValueError(f"dq: expected {d_real.numel()} distances (one per pair), got shape {tuple(dq.shape)}")
    check_positive("dq_min", dq_min)
    with float32_math():
        gap = (d_real.float() - d_fake.float()).abs()
        ratio = gap / dq.detach().float().reshape(-1).clamp_min(dq_min)
        return ((ratio - 1.0) ** 2).mean()


class SSIMGradientPenalty(Regularizer):
    """SSIM-GP as a module; ``dq_*`` arguments go to :func:`~qagan_plugin.functional.dq_distance`.

    ``forward(d_real, d_fake, real, fake)`` with images ``(N, C, H, W)`` in a range
    of width ``data_range`` (2 for [-1, 1]) and logits ``(N,)``; returns a scalar.
    """

    def __init__(self, variant: str = "paper", data_range: float = 2.0, window_size: Optional[int] = None,
                 sigma: float = 1.5, padding: Optional[str] = None, color_mode: Optional[str] = None,
                 pooling: Optional[str] = None, cs_denominator_eps: Optional[float] = None,
                 dq_min: float = 1e-3):
        super().__init__()
        check_positive("dq_min", dq_min)
        self.dq_kwargs = dict(variant=variant, data_range=data_range, window_size=window_size, sigma=sigma,
                              padding=padding, color_mode=color_mode, pooling=pooling,
                              cs_denominator_eps=cs_denominator_eps)
        self.dq_min = float(dq_min)
        # validate the dQ settings now rather than at the first training step
        dq_distance(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16),
                    **{**self.dq_kwargs, "window_size": min(window_size or 8, 16)})

    def distance(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """``dQ(real_i, fake_i)``, ``(N,)``, without a graph."""
        with torch.no_grad(), float32_math():
            return dq_distance(real.detach().float(), fake.detach().float(), **self.dq_kwargs)

    def forward(self, d_real, d_fake, real, fake) -> torch.Tensor:
        return ssim_gp(d_real, d_fake, self.distance(real, fake), self.dq_min)

    def penalty(self, batch: CriticBatch) -> torch.Tensor:
        if "dq" not in batch.cache:
            batch.cache["dq"] = self.distance(batch.real, batch.fake)
        return ssim_gp(batch.d_real, batch.d_fake, batch.cache["dq"], self.dq_min)
