"""qagan-plugin's side of the StudioGAN plugin API (docs/studiogan-plugin-api.md).

Entry points (declared in setup.py):

- ``studiogan.losses``: ``qagan_ssim``, ``qagan_niqe``, ``bwgan_sobolev``, ``bwgan_lp``,
  ``wgan_gp`` -> the Wasserstein loss spec (StudioGAN's ``d_wasserstein``/``g_wasserstein``
  in the paper's sign convention).
- ``studiogan.regularizers``: ``qagan`` -> :class:`QAGANRegularizer`, active when
  ``LOSS.adv_loss`` names one of our recipes; it adds the recipe's penalties to every D step
  (and Banach WGAN's 1/gamma scaling of the adversarial terms).

Configuration keys live in the ``LOSS`` section, StudioGAN style (``"N/A"`` = the recipe's
default, as StudioGAN marks unset values). Every field of :class:`~qagan_plugin.config.RecipeConfig`
maps to one key: ``qagan_<field>`` for the top-level fields (``qa_lambda`` -> ``qagan_lambda``,
``qa_interval`` -> ``qagan_reg_interval``) and ``qagan_<ssim|niqe|sobolev>_<field>`` for the nested
ones; docs/studiogan.md lists them.

This module imports nothing from StudioGAN: everything arrives through hook arguments.
"""
import dataclasses
import re
import time
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ...config import NIQEConfig, RecipeConfig, SobolevConfig, SSIMConfig
from ...recipes import Recipe, build_recipe
from ...regularizers.gradient import CriticBatch

STUDIOGAN_UNSET = "N/A"
RECIPE_NAMES = ("qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp", "wgan_gp", "pggan_wgan_gp")
_TOP_LEVEL_RENAMES = {"qa_lambda": "lambda", "qa_interval": "reg_interval"}
_NESTED = {"ssim": SSIMConfig, "niqe": NIQEConfig, "sobolev": SobolevConfig}


def _key_table() -> Dict[str, Tuple[Tuple[str, ...], object]]:
    """``{studiogan_key: (path into RecipeConfig, default)}``."""
    table = {}
    for f in dataclasses.fields(RecipeConfig):
        if f.name == "recipe":
            continue  # the recipe is LOSS.adv_loss
        if f.name in _NESTED:
            for g in dataclasses.fields(_NESTED[f.name]):
                key = f"qagan_{f.name}_{g.name.rstrip('_')}"
                table[key] = ((f.name, g.name), g.default)
        else:
            table[f"qagan_{_TOP_LEVEL_RENAMES.get(f.name, f.name)}"] = ((f.name,), f.default)
    return table


KEY_TABLE = _key_table()


FULL_RESOLUTION = "full"


def level_config(config: RecipeConfig, resolution: Optional[int], niqe_min_resolution: int = 16) -> RecipeConfig:
    """The recipe settings at a progressive level of ``resolution`` px (``None``: unchanged).

    dQ's valid-padding window shrinks with the level (11 at 32 px and above, 5 at 16, 3 below);
    NIQE-GP is off below ``niqe_min_resolution`` (16 by default: an 8x8 map has too few MSCN
    coefficients per patch for the AGGD fits), and each level keeps its own pristine model.
    """
    if resolution is None:
        return config
    data = config.to_dict()
    window = data["ssim"]["window_size"] or (8 if config.variant == "authors" else 11)
    padding = data["ssim"]["padding"] or ("zero" if config.variant == "authors" else "valid")
    if padding == "valid":
        data["ssim"]["window_size"] = min(window, max(3, (11 * resolution // 32) | 1))
    if config.recipe == "qagan_niqe" and resolution < niqe_min_resolution:
        data["qa_lambda"] = 0.0
    return RecipeConfig.from_dict(data)


def recipe_config_from_loss_section(loss) -> RecipeConfig:
    """Build the :class:`RecipeConfig` of StudioGAN's ``cfgs.LOSS`` (``"N/A"`` -> default).

    Errors name the StudioGAN key (``LOSS.qagan_gp_lambda``), the value and the allowed range.
    """
    top: Dict[str, object] = {"recipe": loss.adv_loss}
    nested: Dict[str, Dict[str, object]] = {name: {} for name in _NESTED}
    for key, (path, _) in KEY_TABLE.items():
        value = getattr(loss, key, STUDIOGAN_UNSET)
        if value == STUDIOGAN_UNSET:
            continue
        if len(path) == 1:
            top[path[0]] = value
        else:
            nested[path[0]][path[1]] = value
    try:
        return RecipeConfig.from_dict(top, **{k: v for k, v in nested.items() if v})
    except ValueError as exc:
        message = str(exc)
        for key, (path, _) in KEY_TABLE.items():
            cls = _NESTED[path[0]].__name__ if len(path) == 2 else "RecipeConfig"
            message = re.sub(rf"\b{cls}\.{path[-1]}\b", f"LOSS.{key}", message)
        message = message.replace("or null (default)", "or \"N/A\" (the recipe default)")
        raise ValueError(message) from None


class WassersteinLoss:
    """StudioGAN loss spec: ``d = E D(fake) - E D(real)``, ``g = -E D(fake)`` (logits only)."""

    @staticmethod
    def d_loss(d_logit_real, d_logit_fake, DDP=False):
        return torch.mean(d_logit_fake) - torch.mean(d_logit_real)

    @staticmethod
    def g_loss(d_logit_fake, DDP=False):
        return -torch.mean(d_logit_fake)


def _logits(output_dict) -> torch.Tensor:
    # adv_output is (B,), (B, 1) (StyleGAN SPD) or 0-d (B = 1)
    return output_dict["adv_output"].reshape(-1)


class QAGANRegularizer:
    """Adds the recipe named by ``LOSS.adv_loss`` to StudioGAN's D (and G) steps.

    Penalties run on the batches D saw this step (augmented, with their logits reused); the
    interpolates use the real labels, as StudioGAN's own GP. Under ``-mpc`` input gradients follow
    the GradScaler recipe; under ``-DDP`` the NIQE-GP pristine statistics are all-reduced on the
    worker's process group. State (pristine model, step counters) goes into checkpoints.
    """

    needs_real_grad = False
    config_defaults = {
        "LOSS": {key: (STUDIOGAN_UNSET if default in (None, dataclasses.MISSING) else default)
                 for key, (_, default) in KEY_TABLE.items()},
        # StudioGAN has no learning-rate schedule; the QAGAN/BWGAN scripts decay both lrs linearly
        # to 0 over this many generator steps ("N/A": constant lr)
        "OPTIMIZATION": {"qagan_linear_decay_steps": STUDIOGAN_UNSET},
    }

    @classmethod
    def is_active(cls, cfgs) -> bool:
        return cfgs.LOSS.adv_loss in RECIPE_NAMES

    @classmethod
    def check_configs(cls, cfgs) -> None:
        if cls.is_active(cfgs):
            recipe_config_from_loss_section(cfgs.LOSS)
            horizon = cfgs.OPTIMIZATION.qagan_linear_decay_steps
            if horizon != STUDIOGAN_UNSET and (isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1):
                raise ValueError(f"OPTIMIZATION.qagan_linear_decay_steps: got {horizon!r}, allowed an int >= 1 or "
                                 f"\"N/A\" (constant learning rate)")
            if getattr(cfgs.LOSS, "apply_gp", False):
                raise ValueError(f"LOSS.apply_gp: StudioGAN's gradient penalty is on together with adv_loss "
                                 f"{cfgs.LOSS.adv_loss!r}, which brings its own; set apply_gp: False")

    def __init__(self, worker):
        self.config = recipe_config_from_loss_section(worker.cfgs.LOSS)
        horizon = worker.cfgs.OPTIMIZATION.qagan_linear_decay_steps
        self.decay_steps = None if horizon == STUDIOGAN_UNSET else int(horizon)
        # one recipe per resolution: progressive backbones get penalties (and NIQE-GP pristine
        # models) per level of detail; other backbones use FULL_RESOLUTION only
        self.recipes: Dict[str, Recipe] = {FULL_RESOLUTION: build_recipe(self.config)}
        self._key = FULL_RESOLUTION
        self.niqe_min_resolution = int(getattr(worker.cfgs.MODEL, "pg_qagan_niqe_min_resolution", 16)) \
            if hasattr(worker.cfgs, "MODEL") else 16
        self.last_logs: Dict[str, object] = {}  # name -> detached tensor or float
        self._device: Optional[torch.device] = None
        self._step_started: Optional[float] = None
        self.step_seconds: Optional[float] = None

    @property
    def recipe(self) -> Recipe:
        """The recipe of the resolution of the last D step."""
        return self.recipes[self._key]

    def _recipe_at(self, resolution: Optional[int]) -> Recipe:
        key = FULL_RESOLUTION if resolution is None else str(resolution)
        if key not in self.recipes:
            self.recipes[key] = build_recipe(level_config(self.config, resolution, self.niqe_min_resolution))
            if self._device is not None:
                self.recipes[key].to(self._device)
        self._key = key
        return self.recipes[key]

    def _to(self, device: torch.device) -> None:
        if self._device != device:
            for recipe in self.recipes.values():
                recipe.to(device)
            self._device = device

    @staticmethod
    def _scaler(worker):
        scaler = getattr(worker, "scaler", None)
        return scaler if scaler is not None and scaler.is_enabled() else None

    @staticmethod
    def _group(worker):
        return getattr(worker, "group", None) if getattr(worker, "DDP", False) else None

    def d_loss(self, worker, current_step, step_index, real_images, real_images_, real_labels, fake_images,
               fake_images_, fake_labels, real_dict, fake_dict) -> torch.Tensor:
        self._to(real_images_.device)
        dis = getattr(worker.Dis, "module", worker.Dis)
        resolution = getattr(dis, "current_resolution", None)
        real, fake = real_images_, fake_images_
        factor = real.shape[-1] // resolution if resolution else 1
        if factor > 1:
            # progressive backbone: penalties on the current level's images; D sees them nearest-
            # upsampled, pools them back and applies its fade, so its logits are those of real_dict
            real, fake = F.avg_pool2d(real, factor), F.avg_pool2d(fake, factor)
            discriminator = lambda x: _logits(worker.Dis(F.interpolate(x, scale_factor=factor, mode="nearest"),
                                                         real_labels))
        else:
            discriminator = lambda x: _logits(worker.Dis(x, real_labels))
        recipe = self._recipe_at(resolution if factor > 1 else None)
        batch = CriticBatch(discriminator, real, fake, _logits(real_dict), _logits(fake_dict),
                            scaler=self._scaler(worker), process_group=self._group(worker))
        penalties, logs = recipe.penalty_loss(batch)
        scale = recipe.adversarial_scale(batch)
        if scale is not None:
            # StudioGAN's loss gave E D(fake) - E D(real); Banach WGAN wants it divided by gamma
            gap = batch.d_fake.float().mean() - batch.d_real.float().mean()
            penalties = penalties + (1.0 / scale - 1.0) * gap
            logs["gamma"] = scale.detach()
        # detached tensors, turned into floats only when StudioGAN logs (every print_freq steps):
        # float() here would synchronize the device on every D step
        self.last_logs = {f"qagan/{k}": v.detach() for k, v in logs.items()}
        if resolution:  # progressive backbone: show where the schedule is
            self.last_logs["qagan/lod"] = float(dis.lod)
        return penalties

    def g_loss(self, worker, current_step, step_index, fake_images, fake_images_, fake_labels,
               fake_dict) -> torch.Tensor:
        logits = _logits(fake_dict)
        scale = self.recipe.adversarial_scale(None)
        if scale is None:
            return logits.new_zeros(())
        return (1.0 / scale.to(logits.device) - 1.0) * (-logits.float().mean())

    def on_step_begin(self, worker, current_step) -> None:
        """Wall time of the previous step (logged as ``qagan/step_seconds``) and the linear lr decay
        (a function of the step only, so a resumed run continues it)."""
        now = time.perf_counter()
        if self._step_started is not None:
            self.step_seconds = now - self._step_started
        self._step_started = now
        if self.decay_steps is None:
            return
        factor = max(0.0, 1.0 - current_step / self.decay_steps)
        for optimizer in (worker.OPTIMIZATION.g_optimizer, worker.OPTIMIZATION.d_optimizer):
            for group in optimizer.param_groups:
                # the configured lr (after StudioGAN's own lazy-regularization rescaling); saved with
                # the optimizer state, so a resumed run decays from the same base
                base = group.setdefault("qagan_base_lr", group["lr"])
                group["lr"] = base * factor

    def log_values(self) -> Dict[str, float]:
        logs = {k: float(v) for k, v in self.last_logs.items()}
        if self.step_seconds is not None:
            logs["qagan/step_seconds"] = self.step_seconds
        return logs

    def state_dict(self) -> Dict:
        return {"recipes": {key: {k: v.detach().cpu() for k, v in recipe.state_dict().items()}
                            for key, recipe in self.recipes.items()},
                "config": self.config.to_dict()}

    def load_state_dict(self, state: Dict) -> None:
        saved = state.get("config", {}).get("recipe")
        if saved is not None and saved != self.config.recipe:
            raise ValueError(f"plugin state in the checkpoint belongs to recipe {saved!r}, but LOSS.adv_loss is "
                             f"{self.config.recipe!r}")
        key = self._key
        for res, recipe_state in state["recipes"].items():
            self._recipe_at(None if res == FULL_RESOLUTION else int(res)).load_state_dict(recipe_state)
        self._key = key
