"""Banach WGAN's dual-norm gradient penalty (Sobolev W^{s,p} and L^p).

Reference: Adler, Lunz, "Banach Wasserstein GAN", NeurIPS 2018, and
``adler-j/bwgan``. In the paper's sign convention::

    L_D = (E D(G(z)) - E D(x)) / gamma + lambda E (||dD(x_hat)||_{B*} / gamma - 1)^2

with ``||dD||_{B*} = || F_{-s} grad ||_q`` (``q = p/(p-1)``). Per-batch heuristics
from the real batch (detached data constants):
``lambda = mean ||F_s x||_p`` and ``gamma = mean ||F_{+-s} x||_q``; the authors'
code filters gamma with ``+s`` (variant ``authors``), the paper's heuristic
``gamma ~ E ||X||_{B*}`` uses ``-s`` (variant ``paper``). For ``s = 0`` the two agree.
"""
from typing import Optional, Tuple

import torch

from ..functional._checks import check_choice, check_positive, check_tensor
from ..functional.sobolev import dual_exponent, sobolev_filter, stable_norm
from .gradient import CriticBatch, Regularizer, float32_math


def banach_scales(real: torch.Tensor, s: float, p: float, c: float = 5.0,
                  gamma_filter_sign: int = -1) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(lambda, gamma)`` heuristics from a real batch ``(N, C, H, W)``; detached scalars."""
    check_tensor("real", real, ndim=(4,))
    check_choice("gamma_filter_sign", gamma_filter_sign, (-1, 1))
    with torch.no_grad(), float32_math():
        x = real.detach().float()
        lam = stable_norm(sobolev_filter(x, s, c), p).mean()
        gamma = stable_norm(sobolev_filter(x, gamma_filter_sign * s, c), dual_exponent(p)).mean()
    return lam, gamma


def banach_gp(grad: torch.Tensor, gamma, s: float, p: float, c: float = 5.0) -> torch.Tensor:
    """``E (||F_{-s} g||_q / gamma - 1)^2`` for input gradients ``g`` ``(N, C, H, W)``; scalar float32."""
    check_tensor("grad", grad, ndim=(4,))
    gamma = torch.as_tensor(gamma, dtype=torch.float32, device=grad.device)
    if not bool(gamma > 0):
        raise ValueError(f"gamma: expected a number > 0, got {float(gamma)!r}")
    with float32_math():
        dual = stable_norm(sobolev_filter(grad.float(), -s, c), dual_exponent(p))
        return ((dual / gamma - 1.0) ** 2).mean()


class SobolevGradientPenalty(Regularizer):
    """Banach GP on W^{s,p} (``s = 0``: L^p). Also scales the Wasserstein term by 1/gamma.

    Args:
        s, p, c: the space W^{s,p} and the frequency scaling (BWGAN: c = 5).
        variant: ``paper`` (gamma with the dual ``-s`` filter) or ``authors`` (``+s``).
        gamma: a fixed gamma, or ``None`` for the per-batch heuristic.
        lambda_: a fixed weight for :meth:`auto_weight`, or ``None`` for the heuristic.
    """

    def __init__(self, s: float = 0.0, p: float = 2.0, c: float = 5.0, variant: str = "paper",
                 gamma: Optional[float] = None, lambda_: Optional[float] = None):
        super().__init__()
        check_choice("variant", variant, ("paper", "authors"))
        dual_exponent(p)  # validates p
        check_positive("c", c)
        if gamma is not None:
            check_positive("gamma", gamma)
        if lambda_ is not None:
            check_positive("lambda_", lambda_, allow_zero=True)
        self.s, self.p, self.c = float(s), float(p), float(c)
        self.gamma_filter_sign = -1 if variant == "paper" else 1
        self.fixed_gamma, self.fixed_lambda = gamma, lambda_
        self.register_buffer("last_gamma", torch.ones(()))

    def scales(self, batch: CriticBatch) -> Tuple[torch.Tensor, torch.Tensor]:
        if "banach_scales" not in batch.cache:
            lam, gamma = banach_scales(batch.real, self.s, self.p, self.c, self.gamma_filter_sign)
            if self.fixed_gamma is not None:
                gamma = torch.tensor(float(self.fixed_gamma), device=lam.device)
            if self.fixed_lambda is not None:
                lam = torch.tensor(float(self.fixed_lambda), device=lam.device)
            # a real batch of zeros has zero norms: fall back to 1 rather than divide by 0
            gamma = torch.where(gamma > 0, gamma, torch.ones_like(gamma))
            self.last_gamma.copy_(gamma)
            batch.cache["banach_scales"] = (lam, gamma)
        return batch.cache["banach_scales"]

    def forward(self, grad: torch.Tensor, gamma) -> torch.Tensor:
        return banach_gp(grad, gamma, self.s, self.p, self.c)

    def penalty(self, batch: CriticBatch) -> torch.Tensor:
        return self(batch.interpolate_gradient(), self.scales(batch)[1])

    def adversarial_scale(self, batch: Optional[CriticBatch]) -> torch.Tensor:
        """gamma of the batch (D step), or the last one seen (G step)."""
        return self.last_gamma if batch is None else self.scales(batch)[1]

    def auto_weight(self, batch: CriticBatch) -> torch.Tensor:
        return self.scales(batch)[0]

    def extra_repr(self) -> str:
        return f"s={self.s}, p={self.p}, c={self.c}, gamma_filter_sign={self.gamma_filter_sign:+d}"
