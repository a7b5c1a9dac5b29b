"""Input validation shared by the public functions.

Every check raises ``TypeError`` or ``ValueError`` with a message that names the
argument, what was expected and what came. Never ``assert``: asserts vanish under
``python -O`` and say nothing useful to a user.
"""
from typing import Optional, Sequence

import torch


def check_tensor(
    name: str,
    x,
    ndim: Optional[Sequence[int]] = None,
    floating: bool = True,
    finite: bool = False,
) -> None:
    """Check that ``x`` is a tensor with one of the allowed ranks.

    ``finite=True`` also scans the values (one reduction; use it on metric
    inputs, not inside a training-step hot path).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.dim() not in tuple(ndim):
        allowed = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name}: expected a {allowed} tensor, got shape {tuple(x.shape)}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if finite and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN/Inf entries in shape {tuple(x.shape)}")


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b}: expected the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_min_size(name: str, x: torch.Tensor, min_hw: int, why: str) -> None:
    h, w = x.shape[-2], x.shape[-1]
    if h < min_hw or w < min_hw:
        raise ValueError(f"{name}: spatial size {h}x{w} is too small for {why} (needs at least {min_hw}x{min_hw})")


def check_choice(name: str, value, allowed: Sequence) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {list(allowed)}, got {value!r}")


def check_positive(name: str, value, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not ok or value != value:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a number {rng}, got {value!r}")
