"""Package data: the standard NIQE natural-scene model and the embedded natural images.

``niqe_natural_scene_model.npz`` is the pristine multivariate Gaussian of the
MATLAB NIQE release (``modelparameters.mat``, Mittal, Soundararajan and Bovik,
LIVE, 2012) as redistributed by BasicSR (Apache-2.0) in
``basicsr/metrics/niqe_pris_params.npz``: keys ``mu_pris_param`` (1x36),
``cov_pris_param`` (36x36) and ``gaussian_window`` (7x7). It is read with
``allow_pickle=False``; nothing is downloaded at run time.
"""
from functools import lru_cache
from importlib import resources
from typing import Tuple

import torch

NATURAL_SCENE_MODEL_FILE = "niqe_natural_scene_model.npz"


@lru_cache(maxsize=1)
def _natural_scene_model_cpu() -> Tuple[torch.Tensor, torch.Tensor]:
    import numpy as np

    with resources.files(__name__).joinpath(NATURAL_SCENE_MODEL_FILE).open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        mu = torch.from_numpy(data["mu_pris_param"].reshape(-1).copy())
        cov = torch.from_numpy(data["cov_pris_param"].copy())
    return mu, cov


def natural_scene_model(dtype=torch.float64, device=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The standard NIQE pristine model: ``mu (36,)``, ``cov (36, 36)``."""
    mu, cov = _natural_scene_model_cpu()
    return mu.to(dtype=dtype, device=device), cov.to(dtype=dtype, device=device)
