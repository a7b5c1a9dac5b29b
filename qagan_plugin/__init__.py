"""qagan-plugin: quality-aware GAN regularizers (QAGAN SSIM-GP and NIQE-GP, Banach WGAN).

Plain PyTorch::

    from qagan_plugin import build_recipe
    recipe = build_recipe("qagan_niqe")
    loss, logs = recipe.discriminator_loss(D, real, fake, D(real), D(fake))

or the penalties one by one (``SSIMGradientPenalty``, ``NIQEGradientPenalty``,
``SobolevGradientPenalty``, ...) and the metrics (``niqe``, ``ssim``, ``dq_distance``).
Nothing touches CUDA at import time.
"""
from .config import NIQEConfig, RecipeConfig, SobolevConfig, SSIMConfig
from .functional import dq_distance, niqe, ssim
from .pristine import PristineModel
from .recipes import RECIPE_SUMMARIES, Recipe, build_recipe
from .registry import RECIPES, REGULARIZERS, Registry
from .regularizers import (CriticBatch, DriftPenalty, NIQEGradientPenalty, Regularizer, SobolevGradientPenalty,
                           SSIMGradientPenalty, WGANGradientPenalty)

__version__ = "0.1.0"

__all__ = [
    "CriticBatch", "DriftPenalty", "NIQEConfig", "NIQEGradientPenalty", "PristineModel", "RECIPES",
    "RECIPE_SUMMARIES", "REGULARIZERS", "Recipe", "RecipeConfig", "Registry", "Regularizer", "SSIMConfig",
    "SSIMGradientPenalty", "SobolevConfig", "SobolevGradientPenalty", "WGANGradientPenalty", "build_recipe",
    "dq_distance", "niqe", "ssim", "__version__",
]
