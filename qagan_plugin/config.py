"""Frozen, validated configuration dataclasses for the recipes.

Every value is checked at construction; a bad one raises ``ValueError`` naming
the field, the value and what is allowed. ``from_dict`` rejects unknown keys
(with the closest valid name), so a typo in a YAML file cannot pass silently.
``None`` means "the recipe's or variant's default" (documented per field in
``docs/recipes.md``); it is a real default, never a sentinel string.
"""
import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

Number = Union[int, float]


def _fail(cls_name: str, name: str, value, allowed: str):
    raise ValueError(f"{cls_name}.{name}: got {value!r}, allowed {allowed}")


def _check_number(cls_name, name, value, lo=None, hi=None, lo_open=False, hi_open=False, integer=False,
                  optional=False):
    if value is None and optional:
        return
    kind = "an int" if integer else "a number"
    lo_s = "" if lo is None else ("(" if lo_open else "[") + str(lo)
    hi_s = "" if hi is None else str(hi) + (")" if hi_open else "]")
    rng = f"{kind} in {lo_s or '(-inf'}, {hi_s or 'inf)'}"
    if optional:
        rng += " or null (default)"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (isinstance(value, float) and math.isnan(value)):
        _fail(cls_name, name, value, rng)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        _fail(cls_name, name, value, rng)
    if hi is not None and (value > hi or (hi_open and value == hi)):
        _fail(cls_name, name, value, rng)


def _check_choice(cls_name, name, value, choices, optional=False):
    if value is None and optional:
        return
    if value not in choices:
        extra = " or null (default)" if optional else ""
        _fail(cls_name, name, value, f"one of {list(choices)}{extra}")


class _Config:
    """Shared ``from_dict``/``to_dict`` of the config dataclasses."""

    @classmethod
    def from_dict(cls, mapping: Optional[Mapping[str, Any]] = None, **overrides):
        data = dict(mapping or {})
        data.update(overrides)
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{cls.__name__}: unknown key {key!r}{hint} (allowed: {', '.join(names)})")
        for key, value in list(data.items()):
            sub = _NESTED.get((cls.__name__, key))
            if sub is not None and isinstance(value, Mapping):
                data[key] = sub.from_dict(value)
        return cls(**data)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SSIMConfig(_Config):
    """dQ settings of SSIM-GP (``None``: the variant's value, see ``dq_distance``)."""
    data_range: float = 2.0
    window_size: Optional[int] = None
    sigma: float = 1.5
    padding: Optional[str] = None
    color_mode: Optional[str] = None
    pooling: Optional[str] = None
    cs_denominator_eps: Optional[float] = None
    dq_min: float = 1e-3

    def __post_init__(self):
        n = type(self).__name__
        _check_number(n, "data_range", self.data_range, 0, lo_open=True)
        _check_number(n, "window_size", self.window_size, 2, 31, integer=True, optional=True)
        _check_number(n, "sigma", self.sigma, 0, lo_open=True)
        _check_choice(n, "padding", self.padding, ("valid", "zero", "replicate", "reflect", "symmetric", "circular"),
                      optional=True)
        _check_choice(n, "color_mode", self.color_mode, ("per_channel", "luma"), optional=True)
        _check_choice(n, "pooling", self.pooling, ("mean_sqrt", "sqrt_mean"), optional=True)
        _check_number(n, "cs_denominator_eps", self.cs_denominator_eps, 0, optional=True)
        _check_number(n, "dq_min", self.dq_min, 0, 1, lo_open=True)


@dataclass(frozen=True)
class NIQEConfig(_Config):
    """NIQE-GP settings (see ``NIQEGradientPenalty``)."""
    channel_reduction: str = "luma"
    normalize: Optional[bool] = None
    mscn_c: float = 0.02
    patch_size: Optional[int] = None
    downsample: str = "bicubic"
    inverse: str = "cholesky"
    jitter: float = 1e-6
    pristine: str = "online"
    pristine_interval: int = 16
    ema_decay: float = 0.9
    min_samples: int = 256
    authors_res: Optional[int] = None

    def __post_init__(self):
        n = type(self).__name__
        _check_choice(n, "channel_reduction", self.channel_reduction, ("luma", "magnitude"))
        _check_choice(n, "normalize", self.normalize, (True, False), optional=True)
        _check_number(n, "mscn_c", self.mscn_c, 0, lo_open=True)
        if self.patch_size is not None and (not isinstance(self.patch_size, int) or isinstance(self.patch_size, bool)
                                            or self.patch_size < 8 or self.patch_size % 2):
            _fail(n, "patch_size", self.patch_size, "an even int >= 8 or null (automatic)")
        _check_choice(n, "downsample", self.downsample, ("bicubic", "avgpool", "decimate"))
        _check_choice(n, "inverse", self.inverse, ("pinv", "cholesky"))
        _check_number(n, "jitter", self.jitter, 0, 1)
        if not isinstance(self.pristine, str) or not self.pristine:
            _fail(n, "pristine", self.pristine, "'online' or the path of a .npz/.mat/.pt file")
        _check_number(n, "pristine_interval", self.pristine_interval, 1, integer=True)
        _check_number(n, "ema_decay", self.ema_decay, 0, 1, hi_open=True)
        _check_number(n, "min_samples", self.min_samples, 37, integer=True)
        _check_number(n, "authors_res", self.authors_res, 4, integer=True, optional=True)


@dataclass(frozen=True)
class SobolevConfig(_Config):
    """Banach GP settings; ``s``/``p`` ``None`` take the recipe's space."""
    s: Optional[float] = None
    p: Optional[float] = None
    c: float = 5.0
    gamma: Optional[float] = None
    lambda_: Optional[float] = None

    def __post_init__(self):
        n = type(self).__name__
        _check_number(n, "s", self.s, -10, 10, optional=True)
        if self.p is not None and not (isinstance(self.p, (int, float)) and not isinstance(self.p, bool)
                                       and self.p >= 1):
            _fail(n, "p", self.p, "a number >= 1 (inf allowed) or null (recipe default)")
        _check_number(n, "c", self.c, 0, lo_open=True)
        _check_number(n, "gamma", self.gamma, 0, lo_open=True, optional=True)
        _check_number(n, "lambda_", self.lambda_, 0, optional=True)


@dataclass(frozen=True)
class RecipeConfig(_Config):
    """A recipe and its settings. ``None`` weights take the recipe's defaults.

    Fields:
        recipe: registered recipe name (``qagan_ssim``, ``qagan_niqe``, ``bwgan_sobolev``,
            ``bwgan_lp``, ``wgan_gp`` or a plugin's).
        variant: ``paper`` or ``authors`` for every method of the recipe.
        gp_lambda: weight of the l2 gradient penalty (QAGAN: 1, WGAN-GP: 10, BWGAN: 0).
        gp_target: its target norm.
        drift_lambda: weight of ``E D(x)^2`` (QAGAN/BWGAN: 1e-5, WGAN-GP: 0).
        qa_lambda: weight of SSIM-GP / NIQE-GP (0.1), or of the Banach GP (``None`` =
            BWGAN's per-batch heuristic).
        qa_interval: evaluate the quality penalty every k D steps with gain k (lazy
            regularisation as StyleGAN2); 1 = every step.
    """
    recipe: str = "qagan_niqe"
    variant: str = "paper"
    gp_lambda: Optional[float] = None
    gp_target: float = 1.0
    drift_lambda: Optional[float] = None
    qa_lambda: Optional[float] = None
    qa_interval: int = 1
    ssim: SSIMConfig = field(default_factory=SSIMConfig)
    niqe: NIQEConfig = field(default_factory=NIQEConfig)
    sobolev: SobolevConfig = field(default_factory=SobolevConfig)

    def __post_init__(self):
        n = type(self).__name__
        if not isinstance(self.recipe, str) or not self.recipe:
            _fail(n, "recipe", self.recipe, "a registered recipe name")
        _check_choice(n, "variant", self.variant, ("paper", "authors"))
        _check_number(n, "gp_lambda", self.gp_lambda, 0, optional=True)
        _check_number(n, "gp_target", self.gp_target, 0, lo_open=True)
        _check_number(n, "drift_lambda", self.drift_lambda, 0, optional=True)
        _check_number(n, "qa_lambda", self.qa_lambda, 0, optional=True)
        _check_number(n, "qa_interval", self.qa_interval, 1, integer=True)
        for name, cls in (("ssim", SSIMConfig), ("niqe", NIQEConfig), ("sobolev", SobolevConfig)):
            if not isinstance(getattr(self, name), cls):
                _fail(n, name, getattr(self, name), f"a {cls.__name__} or a mapping of its fields")


_NESTED: Dict[Tuple[str, str], type] = {
    ("RecipeConfig", "ssim"): SSIMConfig,
    ("RecipeConfig", "niqe"): NIQEConfig,
    ("RecipeConfig", "sobolev"): SobolevConfig,
}
