"""Interpolates, input gradients, the WGAN-GP penalty and the drift term.

References:
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017
    (``lambda E (||grad D(x_hat)||_2 - 1)^2`` at ``x_hat = x + eps (y - x)``).
    Karras et al., "Progressive Growing of GANs", ICLR 2018 (drift
    ``eps_drift E D(x)^2`` and the target-normalised form ``(||g|| - t)^2 / t^2``).

Also the :class:`CriticBatch`: what one discriminator step knows (D, the real
and fake batch, their logits, the GradScaler), with every derived tensor
(interpolates, the input gradient there, the gradient at the reals, dQ) computed
at most once and shared by all penalties of the step.
"""
import contextlib
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn

from ..functional._checks import check_same_shape, check_tensor

TINY = 1e-12


def float32_math():
    """Context for penalty maths: autocast off, so float16/bfloat16 never reach it."""
    device_types = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    stack = contextlib.ExitStack()
    for dev in device_types:
        stack.enter_context(torch.autocast(device_type=dev, enabled=False))
    return stack


def interpolate(real: torch.Tensor, fake: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``x_hat = real + eps (fake - real)``, ``eps ~ U[0, 1]`` per sample; ``(N, ...)``, detached."""
    check_tensor("real", real)
    check_tensor("fake", fake)
    check_same_shape("real", real, "fake", fake)
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    rng_device = generator.device if generator is not None else real.device
    eps = torch.rand(shape, generator=generator, dtype=real.dtype, device=rng_device).to(real.device)
    return real.detach() + eps * (fake.detach() - real.detach())


def input_gradient(outputs: torch.Tensor, inputs: torch.Tensor, create_graph: bool = True,
                   scaler=None) -> torch.Tensor:
    """``d sum(outputs) / d inputs`` in float32, with PyTorch's GradScaler recipe.

    Under mixed precision the backward of an fp16 graph can underflow; with an
    enabled ``scaler`` the sum is scaled before ``autograd.grad`` and the
    gradient unscaled after (``torch.amp`` docs, "Gradient penalty"). An
    overflow shows as Inf in the gradient, and the scaler then skips the step.

    Args:
        outputs: critic logits, any shape (summed).
        inputs: the tensor they were computed from (``requires_grad=True``).
        create_graph: keep the graph for double backpropagation (penalties).
    Returns:
        gradient of ``inputs``' shape, float32 (or float64 for float64 inputs).
    """
    check_tensor("outputs", outputs)
    check_tensor("inputs", inputs)
    if not inputs.requires_grad:
        raise ValueError("inputs: expected a tensor with requires_grad=True (the critic input)")
    total = outputs.float().sum()
    scaled = scaler is not None and scaler.is_enabled()
    if scaled:
        total = scaler.scale(total)
    (grad,) = torch.autograd.grad(total, inputs, create_graph=create_graph)
    grad = grad.to(torch.promote_types(grad.dtype, torch.float32))
    if scaled:
        grad = grad * (1.0 / scaler.get_scale())
    return grad


def gradient_norm(grad: torch.Tensor) -> torch.Tensor:
    """``||g||_2`` over all non-batch dims, ``(N,)``; finite gradient at ``g = 0``."""
    sq = grad.float().flatten(1).pow(2).sum(1)
    return sq.clamp_min(TINY).sqrt()


def wgan_gp(grad: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """``E (||g||_2 - t)^2 / t^2`` (Gulrajani et al. 2017 with Karras et al.'s target ``t``).

    Args:
        grad: ``(N, C, H, W)`` input gradient at the interpolates.
    Returns:
        scalar, float32.
    """
    check_tensor("grad", grad, ndim=(2, 3, 4, 5))
    if not target > 0:
        raise ValueError(f"target: expected a number > 0, got {target!r}")
    with float32_math():
        return ((gradient_norm(grad) - target) ** 2).mean() / (target * target)


def drift_penalty(d_real: torch.Tensor) -> torch.Tensor:
    """``E D(x)^2`` over real logits (Karras et al. 2018; BWGAN/QAGAN weight 1e-5). Scalar."""
    check_tensor("d_real", d_real)
    with float32_math():
        return d_real.float().pow(2).mean()


class CriticBatch:
    """One discriminator step's tensors, with derived tensors computed once.

    Args:
        discriminator: ``x -> logits`` (any shape with N entries; the caller binds
            labels). Called on interpolates and, for the pristine refresh, on reals.
        real, fake: ``(N, C, H, W)`` batches D saw this step (fake detached).
        d_real, d_fake: their logits (reused, never recomputed).
        scaler: an enabled ``torch.amp.GradScaler`` under mixed precision.
        generator: RNG for the interpolation weights (reproducibility).
        process_group: the group running statistics are all-reduced on under
            ``torch.distributed`` (``None``: the default group when initialised).
    """

    def __init__(self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                 fake: torch.Tensor, d_real: torch.Tensor, d_fake: torch.Tensor, scaler=None,
                 generator: Optional[torch.Generator] = None, process_group=None):
        check_tensor("real", real, ndim=(4,))
        check_tensor("fake", fake, ndim=(4,))
        check_same_shape("real", real, "fake", fake)
        self.discriminator = discriminator
        self.real, self.fake = real, fake.detach()
        self.d_real, self.d_fake = d_real.reshape(-1), d_fake.reshape(-1)
        if self.d_real.numel() != real.shape[0] or self.d_fake.numel() != real.shape[0]:
            raise ValueError(f"d_real/d_fake: expected {real.shape[0]} logits each (one per image), got "
                             f"{tuple(d_real.shape)} and {tuple(d_fake.shape)}")
        self.scaler = scaler
        self.generator = generator
        self.process_group = process_group
        self.cache: Dict[str, torch.Tensor] = {}

    def interpolates(self) -> torch.Tensor:
        if "interpolates" not in self.cache:
            self.cache["interpolates"] = interpolate(self.real, self.fake, self.generator).requires_grad_(True)
        return self.cache["interpolates"]

    def interpolate_gradient(self) -> torch.Tensor:
        """``grad_x D(x_hat)`` with ``create_graph=True`` (shared by WGAN-GP, NIQE-GP, Banach GP)."""
        if "interpolate_gradient" not in self.cache:
            x_hat = self.interpolates()
            self.cache["interpolate_gradient"] = input_gradient(self.discriminator(x_hat), x_hat,
                                                                create_graph=True, scaler=self.scaler)
        return self.cache["interpolate_gradient"]

    def real_gradient(self) -> torch.Tensor:
        """``grad_x D(x_real)``, detached: the pristine model's input."""
        if "real_gradient" not in self.cache:
            x = self.real.detach().requires_grad_(True)
            with torch.enable_grad():
                g = input_gradient(self.discriminator(x), x, create_graph=False, scaler=self.scaler)
            self.cache["real_gradient"] = g.detach()
        return self.cache["real_gradient"]


class Regularizer(nn.Module):
    """Protocol of every penalty: ``penalty(batch) -> scalar`` (unweighted, float32).

    Subclasses may override ``adversarial_scale`` (Banach WGAN divides the
    Wasserstein term by gamma) and ``auto_weight`` (per-batch lambda).
    """

    def penalty(self, batch: CriticBatch) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def adversarial_scale(self, batch: CriticBatch) -> Optional[torch.Tensor]:
        return None

    def auto_weight(self, batch: CriticBatch) -> torch.Tensor:
        raise ValueError(f"{type(self).__name__} has no automatic weight; give a number")


class WGANGradientPenalty(Regularizer):
    """Module form of :func:`wgan_gp` at the step's interpolates."""

    def __init__(self, target: float = 1.0):
        super().__init__()
        if not target > 0:
            raise ValueError(f"target: expected a number > 0, got {target!r}")
        self.target = float(target)

    def forward(self, grad: torch.Tensor) -> torch.Tensor:
        return wgan_gp(grad, self.target)

    def penalty(self, batch: CriticBatch) -> torch.Tensor:
        return self(batch.interpolate_gradient())


class DriftPenalty(Regularizer):
    """Module form of :func:`drift_penalty` on the step's real logits."""

    def forward(self, d_real: torch.Tensor) -> torch.Tensor:
        return drift_penalty(d_real)

    def penalty(self, batch: CriticBatch) -> torch.Tensor:
        return self(batch.d_real)
