"""The pristine multivariate Gaussian of NIQE-GP: (mu_P, Sigma_P) as buffers.

It describes NIQE features of the critic's gradient maps at *real* images
(QAGAN slides p.16). Two sources:

- online (default): :meth:`PristineModel.update` accumulates the feature sum,
  the sum of outer products and the count with an exponential moving average
  (decay per refresh). Under ``torch.distributed`` the three are packed into one
  float64 tensor and all-reduced once per refresh, so every rank holds the same
  model, equal to what one process would fit on the concatenated batch.
- fixed, from a file (:meth:`PristineModel.from_file`): ``.npz``, ``.mat`` (the
  authors' ``mu_prisparam``/``cov_prisparam``) or ``.pt`` loaded with
  ``weights_only=True``. Nothing is unpickled.

The covariance is ``(S2 - w mu mu^T) / (w - 1)`` from the weighted sums, i.e. the
unbiased sample covariance on the first refresh. Statistics are float64.
"""
import logging
import os
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn

log = logging.getLogger("qagan_plugin")

_MEAN_KEYS = ("mu", "mu_pris_param", "mu_prisparam")
_COV_KEYS = ("cov", "cov_pris_param", "cov_prisparam")


def _pick(mapping, keys, path, what):
    for k in keys:
        if k in mapping:
            return mapping[k]
    raise ValueError(f"{path}: no {what} found; expected one of the keys {list(keys)}, got {sorted(mapping)}")


def load_mvg(path: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Read ``(mu (d,), cov (d, d))`` from ``.npz``, ``.mat`` or ``.pt``/``.pth`` without executing code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pristine model file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            mapping = {k: data[k] for k in data.files}
    elif ext == ".mat":
        import scipy.io

        mapping = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    elif ext in (".pt", ".pth"):
        mapping = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: expected a dict of tensors, got {type(mapping).__name__}")
    else:
        raise ValueError(f"{path}: unknown pristine model format {ext!r}; expected .npz, .mat, .pt or .pth")
    mu = torch.as_tensor(_pick(mapping, _MEAN_KEYS, path, "mean")).to(torch.float64).reshape(-1)
    cov = torch.as_tensor(_pick(mapping, _COV_KEYS, path, "covariance")).to(torch.float64)
    d = mu.numel()
    if cov.shape != (d, d):
        raise ValueError(f"{path}: covariance has shape {tuple(cov.shape)}, expected ({d}, {d}) for a mean of {d}")
    if not (torch.isfinite(mu).all() and torch.isfinite(cov).all()):
        raise ValueError(f"{path}: mean or covariance contains NaN/Inf")
    return mu, cov


class PristineModel(nn.Module):
    """Running or fixed MVG of feature vectors.

    Args:
        num_features: feature dimension (36 for NIQE).
        ema_decay: weight of the old sums at each refresh, in [0, 1).
        min_samples: feature vectors (all ranks together) to see before the model
            is :attr:`ready`; well above ``num_features`` so Sigma is full rank.

    Buffers (all in ``state_dict``): ``feature_sum (d,)``, ``outer_sum (d, d)``,
    ``weight ()``, ``seen ()``, ``mu (d,)``, ``cov (d, d)``, ``fixed ()``.
    """

    def __init__(self, num_features: int = 36, ema_decay: float = 0.9, min_samples: int = 256):
        super().__init__()
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features: expected an int >= 1, got {num_features!r}")
        if not (isinstance(ema_decay, (int, float)) and 0 <= ema_decay < 1):
            raise ValueError(f"ema_decay: expected a number in [0, 1), got {ema_decay!r}")
        if not isinstance(min_samples, int) or min_samples <= num_features:
            raise ValueError(f"min_samples: expected an int > num_features ({num_features}) so that the "
                             f"covariance can be full rank, got {min_samples!r}")
        self.num_features, self.ema_decay, self.min_samples = num_features, float(ema_decay), min_samples
        f64 = torch.float64
        self.register_buffer("feature_sum", torch.zeros(num_features, dtype=f64))
        self.register_buffer("outer_sum", torch.zeros(num_features, num_features, dtype=f64))
        self.register_buffer("weight", torch.zeros((), dtype=f64))
        self.register_buffer("seen", torch.zeros((), dtype=f64))
        self.register_buffer("mu", torch.zeros(num_features, dtype=f64))
        self.register_buffer("cov", torch.eye(num_features, dtype=f64))
        self.register_buffer("fixed", torch.zeros((), dtype=torch.bool))

    @classmethod
    def from_tensors(cls, mu: torch.Tensor, cov: torch.Tensor) -> "PristineModel":
        """A fixed model (no online updates, ready at once)."""
        mu = torch.as_tensor(mu, dtype=torch.float64).reshape(-1)
        d = mu.numel()
        model = cls(num_features=d, min_samples=d + 1)
        cov = torch.as_tensor(cov, dtype=torch.float64)
        if cov.shape != (d, d):
            raise ValueError(f"cov: expected shape ({d}, {d}), got {tuple(cov.shape)}")
        model.mu.copy_(mu)
        model.cov.copy_(cov)
        model.fixed.fill_(True)
        return model

    @classmethod
    def from_file(cls, path: str) -> "PristineModel":
        """A fixed model read by :func:`load_mvg`."""
        return cls.from_tensors(*load_mvg(path))

    @property
    def ready(self) -> bool:
        return bool(self.fixed) or float(self.seen) >= self.min_samples

    @torch.no_grad()
    def update(self, features: torch.Tensor, process_group=None) -> None:
        """Fold ``(n, d)`` feature vectors in; all-reduced across ranks when distributed.

        Every rank must call this at the same step (it is a collective).
        """
        if bool(self.fixed):
            raise RuntimeError("PristineModel.update: this model was loaded from a file and is fixed")
        if not isinstance(features, torch.Tensor) or features.dim() != 2 or features.shape[1] != self.num_features:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"features: expected shape (n, {self.num_features}), got {got}")
        f = features.detach().to(device=self.feature_sum.device, dtype=torch.float64)
        d = self.num_features
        packed = torch.cat([f.new_tensor([f.shape[0]]), f.sum(0), (f.T @ f).reshape(-1)])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size(process_group) > 1:
            dist.all_reduce(packed, op=dist.ReduceOp.SUM, group=process_group)
        n, s1, s2 = packed[0], packed[1:1 + d], packed[1 + d:].reshape(d, d)
        decay = self.ema_decay if float(self.weight) > 0 else 0.0
        self.feature_sum.mul_(decay).add_(s1)
        self.outer_sum.mul_(decay).add_(s2)
        self.weight.mul_(decay).add_(n)
        self.seen.add_(n)
        w = self.weight
        mu = self.feature_sum / w
        cov = (self.outer_sum - w * torch.outer(mu, mu)) / (w - 1).clamp_min(1.0)
        self.mu.copy_(mu)
        self.cov.copy_(0.5 * (cov + cov.T))

    def save(self, path: str) -> None:
        """Write ``mu``, ``cov`` and ``seen`` as ``.npz`` (loads back with :meth:`from_file`)."""
        import numpy as np

        tmp = os.fspath(path) + ".tmp.npz"
        np.savez(tmp, mu=self.mu.cpu().numpy(), cov=self.cov.cpu().numpy(), seen=self.seen.cpu().numpy())
        os.replace(tmp, path)  # no half-written file under the final name

    def extra_repr(self) -> str:
        src = "fixed" if bool(self.fixed) else f"online, ema_decay={self.ema_decay}, min_samples={self.min_samples}"
        return f"num_features={self.num_features}, {src}"
