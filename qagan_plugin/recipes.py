"""Named recipes: the Wasserstein loss plus weighted regularizers plus defaults.

One loss protocol for every recipe (as StyleGAN2-ADA's ``loss.accumulate_gradients``)::

    recipe = build_recipe("qagan_niqe")                 # or build_recipe(RecipeConfig(...))
    d_real, d_fake = D(real), D(fake.detach())
    loss, logs = recipe.discriminator_loss(D, real, fake, d_real, d_fake, scaler=scaler)
    loss.backward()
    ...
    g_loss, g_logs = recipe.generator_loss(D(G(z)))

The paper sign convention is used (critic high on real):
``L_D = E D(fake) - E D(real) + sum_k lambda_k R_k``, ``L_G = -E D(fake)``.

=================  ==========  =============  =========  =========================
recipe             gp_lambda   quality term   drift      source
=================  ==========  =============  =========  =========================
``wgan_gp``        10          -              0          Gulrajani et al. 2017
``qagan_ssim``     1           SSIM-GP 0.1    1e-5       QAGAN authors' scripts
``qagan_niqe``     1           NIQE-GP 0.1    1e-5       QAGAN authors' scripts
``bwgan_sobolev``  0           Banach W^{-3/2,2}, lambda per batch, /gamma   1e-5   BWGAN
``bwgan_lp``       0           Banach L^10, lambda per batch, /gamma          1e-5   BWGAN
``pggan_wgan_gp``  10          -              1e-3       Karras et al. 2018
=================  ==========  =============  =========  =========================
"""
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn

from .config import RecipeConfig
from .regularizers import (CriticBatch, DriftPenalty, NIQEGradientPenalty, Regularizer, SobolevGradientPenalty,
                           SSIMGradientPenalty, WGANGradientPenalty)
from .regularizers.gradient import float32_math
from .registry import RECIPES, REGULARIZERS

REGULARIZERS.register("wgan_gp", WGANGradientPenalty)
REGULARIZERS.register("drift", DriftPenalty)
REGULARIZERS.register("ssim_gp", SSIMGradientPenalty)
REGULARIZERS.register("niqe_gp", NIQEGradientPenalty)
REGULARIZERS.register("banach_gp", SobolevGradientPenalty)


class Recipe(nn.Module):
    """Wasserstein critic/generator losses with weighted regularizers.

    Args:
        name: the recipe's name.
        terms: ``{name: (regularizer, weight, interval)}``; ``weight=None`` asks the
            regularizer's ``auto_weight`` (per-batch lambda); a term is evaluated every
            ``interval`` D steps with gain ``interval``.
        config: the resolved :class:`RecipeConfig` (kept for logging/checkpoints).
    """

    def __init__(self, name: str, terms: Dict[str, Tuple[Regularizer, Optional[float], int]],
                 config: Optional[RecipeConfig] = None):
        super().__init__()
        self.name = name
        self.config = config
        self.terms = nn.ModuleDict({k: module for k, (module, _, _) in terms.items()})
        self.weights = {k: w for k, (_, w, _) in terms.items()}
        self.intervals = {k: i for k, (_, _, i) in terms.items()}
        self.register_buffer("d_steps", torch.zeros((), dtype=torch.long))

    def _adversarial_scale(self, batch: Optional[CriticBatch]):
        for module in self.terms.values():
            scale = module.adversarial_scale(batch)
            if scale is not None:
                return scale
        return None

    def discriminator_loss(self, discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                           fake: torch.Tensor, d_real: torch.Tensor, d_fake: torch.Tensor, scaler=None,
                           generator: Optional[torch.Generator] = None, process_group=None
                           ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Critic loss of one D step and its detached terms for logging.

        Args:
            discriminator: ``x -> logits`` (bind labels with a lambda); called for
                the interpolates (and the pristine refresh), never for real/fake again.
            real, fake: ``(N, C, H, W)``; ``d_real``, ``d_fake``: their logits ``(N,)``.
            scaler: the ``GradScaler`` under mixed precision (input gradients are
                taken of the scaled output and unscaled).
            process_group: for the NIQE-GP pristine all-reduce under DDP.
        Returns:
            ``(loss, logs)``; ``logs`` has ``wasserstein`` (E D(real) - E D(fake)) and
            each evaluated term's unweighted value.
        """
        batch = CriticBatch(discriminator, real, fake, d_real, d_fake, scaler=scaler, generator=generator,
                            process_group=process_group)
        with float32_math():
            gap = batch.d_real.float().mean() - batch.d_fake.float().mean()
            scale = self.adversarial_scale(batch)
            adversarial = -gap if scale is None else -gap / scale
            penalties, logs = self.penalty_loss(batch)
        return adversarial + penalties, {"wasserstein": gap.detach(), **logs}

    def adversarial_scale(self, batch: Optional[CriticBatch]) -> Optional[torch.Tensor]:
        """The divisor of the Wasserstein term (Banach WGAN's gamma), or ``None``."""
        return self._adversarial_scale(batch)

    def penalty_loss(self, batch: CriticBatch) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """The weighted sum of this D step's penalties (no adversarial term) and their unweighted values.

        For loops that compute the adversarial loss themselves (StudioGAN). Advances the D-step counter.
        """
        step = int(self.d_steps)
        total = batch.d_real.new_zeros((), dtype=torch.float32)
        logs: Dict[str, torch.Tensor] = {}
        with float32_math():
            for name, module in self.terms.items():
                interval = self.intervals[name]
                if step % interval:
                    continue
                value = module.penalty(batch)
                weight = self.weights[name]
                weight = module.auto_weight(batch) if weight is None else weight
                total = total + (weight * interval) * value
                logs[name] = value.detach()
        self.d_steps += 1
        return total, logs

    def generator_loss(self, d_fake: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``-E D(G(z))`` (divided by the last gamma for Banach recipes); ``(loss, logs)``."""
        with float32_math():
            loss = -d_fake.float().mean()
            scale = self._adversarial_scale(None)
            if scale is not None:
                loss = loss / scale
        return loss, {"generator": loss.detach()}

    def extra_repr(self) -> str:
        parts = [f"{k}: weight={'auto' if w is None else w}, interval={self.intervals[k]}"
                 for k, w in self.weights.items()]
        return f"name={self.name!r}, " + "; ".join(parts)


# ----------------------------------------------------------------- the recipes
def _resolve(cfg: RecipeConfig, **defaults) -> Dict[str, float]:
    return {k: (getattr(cfg, k) if getattr(cfg, k) is not None else v) for k, v in defaults.items()}


def _terms(cfg: RecipeConfig, gp_lambda: float, drift_lambda: float, quality=None, quality_weight=None):
    terms = {}
    if gp_lambda > 0:
        terms["gp"] = (WGANGradientPenalty(cfg.gp_target), gp_lambda, 1)
    if quality is not None:
        name, module = quality
        if quality_weight is None or quality_weight > 0:
            terms[name] = (module, quality_weight, cfg.qa_interval)
    if drift_lambda > 0:
        terms["drift"] = (DriftPenalty(), drift_lambda, 1)
    return terms


def _ssim_module(cfg: RecipeConfig) -> SSIMGradientPenalty:
    return SSIMGradientPenalty(variant=cfg.variant, **cfg.ssim.to_dict())


def _niqe_module(cfg: RecipeConfig) -> NIQEGradientPenalty:
    return NIQEGradientPenalty(variant=cfg.variant, **cfg.niqe.to_dict())


def _banach_module(cfg: RecipeConfig, s: float, p: float) -> SobolevGradientPenalty:
    sob = cfg.sobolev
    return SobolevGradientPenalty(s=sob.s if sob.s is not None else s, p=sob.p if sob.p is not None else p,
                                  c=sob.c, variant=cfg.variant, gamma=sob.gamma, lambda_=sob.lambda_)


@RECIPES.register("wgan_gp")
def build_wgan_gp(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=10.0, drift_lambda=0.0)
    return Recipe("wgan_gp", _terms(cfg, w["gp_lambda"], w["drift_lambda"]), cfg)


@RECIPES.register("qagan_ssim")
def build_qagan_ssim(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=1.0, drift_lambda=1e-5, qa_lambda=0.1)
    return Recipe("qagan_ssim", _terms(cfg, w["gp_lambda"], w["drift_lambda"], ("ssim_gp", _ssim_module(cfg)),
                                       w["qa_lambda"]), cfg)


@RECIPES.register("qagan_niqe")
def build_qagan_niqe(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=1.0, drift_lambda=1e-5, qa_lambda=0.1)
    return Recipe("qagan_niqe", _terms(cfg, w["gp_lambda"], w["drift_lambda"], ("niqe_gp", _niqe_module(cfg)),
                                       w["qa_lambda"]), cfg)


@RECIPES.register("bwgan_sobolev")
def build_bwgan_sobolev(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=0.0, drift_lambda=1e-5)
    return Recipe("bwgan_sobolev", _terms(cfg, w["gp_lambda"], w["drift_lambda"],
                                          ("banach_gp", _banach_module(cfg, -1.5, 2.0)), cfg.qa_lambda), cfg)


@RECIPES.register("bwgan_lp")
def build_bwgan_lp(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=0.0, drift_lambda=1e-5)
    return Recipe("bwgan_lp", _terms(cfg, w["gp_lambda"], w["drift_lambda"],
                                     ("banach_gp", _banach_module(cfg, 0.0, 10.0)), cfg.qa_lambda), cfg)


@RECIPES.register("pggan_wgan_gp")
def build_pggan_wgan_gp(cfg: RecipeConfig) -> Recipe:
    w = _resolve(cfg, gp_lambda=10.0, drift_lambda=1e-3)
    return Recipe("pggan_wgan_gp", _terms(cfg, w["gp_lambda"], w["drift_lambda"]), cfg)


RECIPE_SUMMARIES = {
    "wgan_gp": "WGAN-GP baseline: Wasserstein loss + 10 * l2 gradient penalty (Gulrajani et al. 2017)",
    "qagan_ssim": "QAGAN-SSIM: WGAN-GP (1) + 0.1 * SSIM-GP (dQ-Lipschitz) + 1e-5 drift (Kancharla & Channappayya 2019)",
    "qagan_niqe": "QAGAN-NIQE: WGAN-GP (1) + 0.1 * NIQE of D's gradient maps + 1e-5 drift (Kancharla & Channappayya 2019)",
    "bwgan_sobolev": "Banach WGAN on W^{-3/2,2}: dual-norm GP, per-batch lambda and gamma (Adler & Lunz 2018)",
    "bwgan_lp": "Banach WGAN on L^10: dual-norm (L^{10/9}) GP, per-batch lambda and gamma (Adler & Lunz 2018)",
    "pggan_wgan_gp": "PGGAN loss: Wasserstein + 10 * l2 gradient penalty + 1e-3 drift (Karras et al. 2018)",
}


def build_recipe(config: Union[str, RecipeConfig, dict] = "qagan_niqe", **overrides) -> Recipe:
    """Build a recipe from a name (plus ``RecipeConfig`` fields), a mapping or a config."""
    if isinstance(config, str):
        config = RecipeConfig.from_dict(overrides, recipe=config)
    elif isinstance(config, dict):
        config = RecipeConfig.from_dict(config, **overrides)
    elif isinstance(config, RecipeConfig):
        if overrides:
            config = RecipeConfig.from_dict({**config.to_dict(), **overrides})
    else:
        raise TypeError(f"config: expected a recipe name, a mapping or a RecipeConfig, got {type(config).__name__}")
    return RECIPES.get(config.recipe)(config)
