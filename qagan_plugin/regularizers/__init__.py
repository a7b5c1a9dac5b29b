"""Critic penalties: each a pure function plus a thin ``nn.Module`` (the :class:`Regularizer` protocol)."""
from .banach_gp import SobolevGradientPenalty, banach_gp, banach_scales
from .gradient import (CriticBatch, DriftPenalty, Regularizer, WGANGradientPenalty, drift_penalty, gradient_norm,
                       input_gradient, interpolate, wgan_gp)
from .niqe_gp import NIQEGradientPenalty, gradient_map_features, gradient_maps, niqe_gp
from .ssim_gp import SSIMGradientPenalty, ssim_gp

__all__ = [
    "CriticBatch", "DriftPenalty", "NIQEGradientPenalty", "Regularizer", "SSIMGradientPenalty",
    "SobolevGradientPenalty", "WGANGradientPenalty", "banach_gp", "banach_scales", "drift_penalty",
    "gradient_map_features", "gradient_maps", "gradient_norm", "input_gradient", "interpolate", "niqe_gp",
    "ssim_gp", "wgan_gp",
]
