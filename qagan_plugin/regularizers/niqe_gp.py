"""NIQE-GP: a naturalness penalty on the critic's input-gradient maps.

Reference: Kancharla, Channappayya, NeurIPS 2019 (slides p.16-17)::

    L_D = W + lambda_1 GP + lambda_2 || grad_{x_hat} D(x_hat) | mu_P, Sigma_P ||_NIQE

where ``||.||_NIQE`` is the NIQE distance between the MVG of NIQE features of
the gradient maps at the WGAN-GP interpolates and the pristine MVG of features
of gradient maps at real images. Needs double backpropagation (the gradient
map depends on the critic's weights), which the shared
``create_graph=True`` interpolate gradient provides.

Variants:
- ``paper`` (default, the paper's intent with standard NIQE): grey (luma) or
  magnitude map per image, per-map RMS normalisation (NIQE's ``C = 1`` assumes
  8-bit intensities with a std of ~50, hence ``mscn_c = 0.02`` on unit-RMS
  maps), MATLAB MSCN (7x7, sigma 7/6, replicate, std + C), in-image neighbour
  products, exact AGGD, patches of the whole map up to 48 px and 32 px above,
  MVG over all patches of the batch, pooled covariance solved by jittered
  Cholesky. Pristine model online (EMA of real-image gradient maps) or a file.
- ``authors``: :func:`~qagan_plugin.functional.authors_niqe_score` on TF luma of
  the raw gradient, with a fixed pristine file (e.g. ``model_face_grad.mat``).
"""
import logging
from typing import Optional

import torch

from ..functional._checks import check_choice, check_positive, check_tensor
from ..functional.niqe import TINY, mvg_fit, niqe_distance, niqe_features
from ..functional.niqe_authors import authors_niqe_score
from ..functional.ssim import to_luma
from ..pristine import PristineModel
from .gradient import CriticBatch, Regularizer, float32_math

log = logging.getLogger("qagan_plugin")

CHANNEL_REDUCTIONS = ("luma", "magnitude")


def gradient_maps(grad: torch.Tensor, channel_reduction: str = "luma", normalize: bool = True) -> torch.Tensor:
    """``(N, C, H, W) -> (N, 1, H, W)`` one map per image.

    ``luma``: BT.601 weighted sum of the signed channel gradients (the authors'
    ``rgb_to_grayscale``); ``magnitude``: per-pixel l2 norm over channels.
    ``normalize``: divide each map by its RMS (clamped at 1e-6), making the
    features independent of the gradient's overall scale, which WGAN-GP controls.
    """
    check_tensor("grad", grad, ndim=(4,))
    check_choice("channel_reduction", channel_reduction, CHANNEL_REDUCTIONS)
    g = grad.float()
    if channel_reduction == "luma":
        m = to_luma(g) if g.shape[1] in (1, 3) else g.mean(1, keepdim=True)
    else:
        m = g.pow(2).sum(1, keepdim=True).clamp_min(TINY).sqrt()
    if normalize:
        rms = m.pow(2).mean(dim=(1, 2, 3), keepdim=True).clamp_min(TINY).sqrt()
        m = m / rms.clamp_min(1e-6)
    return m


def auto_patch_size(h: int, w: int) -> int:
    """The whole map up to 48 px (CIFAR-10, STL-10), else 32 (methods-spec 3.5)."""
    side = min(h, w)
    return side - side % 2 if side <= 48 else 32


def gradient_map_features(grad: torch.Tensor, channel_reduction: str = "luma", normalize: bool = True,
                          mscn_c: float = 0.02, patch_size: Optional[int] = None,
                          downsample: str = "bicubic", shape_method: str = "exact") -> torch.Tensor:
    """NIQE features of every patch of every gradient map, ``(N * P, 36)`` float32."""
    maps = gradient_maps(grad, channel_reduction, normalize)
    p = patch_size or auto_patch_size(*maps.shape[-2:])
    feats = niqe_features(maps, patch_size=p, mscn_c=mscn_c, downsample=downsample, shape_method=shape_method)
    return feats.reshape(-1, feats.shape[-1])


def niqe_gp(grad: torch.Tensor, pristine_mu: torch.Tensor, pristine_cov: torch.Tensor,
            channel_reduction: str = "luma", normalize: bool = True, mscn_c: float = 0.02,
            patch_size: Optional[int] = None, downsample: str = "bicubic", inverse: str = "cholesky",
            jitter: float = 1e-6) -> torch.Tensor:
    """NIQE distance of the batch's gradient-map features to the pristine MVG (paper variant).

    Args:
        grad: ``(N, C, H, W)`` input gradient at the interpolates (with graph).
        pristine_mu, pristine_cov: ``(36,)``, ``(36, 36)``.
    Returns:
        scalar float32 in ``[0, inf)``; differentiable with respect to ``grad``.
    """
    with float32_math():
        feats = gradient_map_features(grad, channel_reduction, normalize, mscn_c, patch_size, downsample)
        mu_t, cov_t = mvg_fit(feats.double())
        return niqe_distance(pristine_mu, pristine_cov, mu_t, cov_t, inverse=inverse, jitter=jitter).float()


class NIQEGradientPenalty(Regularizer):
    """NIQE-GP with its pristine model (buffers, so ``state_dict`` carries them).

    Args:
        variant: ``paper`` or ``authors`` (see module docstring).
        pristine: ``online`` or the path of a pristine file (required for ``authors``).
        pristine_interval: refresh the online model every this many penalty calls
            (D steps), from the gradient at the step's real images.
        ema_decay, min_samples: of the online :class:`~qagan_plugin.pristine.PristineModel`;
            until ``min_samples`` vectors are seen the penalty is 0 (logged once).
        authors_res: the authors' ``res`` (default: the map size; 32 for CelebA 64).
        Other arguments as :func:`niqe_gp`.

    ``forward(grad)`` returns the scalar penalty against the current model.
    """

    def __init__(self, variant: str = "paper", channel_reduction: str = "luma", normalize: Optional[bool] = None,
                 mscn_c: float = 0.02, patch_size: Optional[int] = None, downsample: str = "bicubic",
                 inverse: str = "cholesky", jitter: float = 1e-6, pristine: str = "online",
                 pristine_interval: int = 16, ema_decay: float = 0.9, min_samples: int = 256,
                 authors_res: Optional[int] = None):
        super().__init__()
        check_choice("variant", variant, ("paper", "authors"))
        check_choice("channel_reduction", channel_reduction, CHANNEL_REDUCTIONS)
        check_choice("downsample", downsample, ("bicubic", "avgpool", "decimate"))
        check_choice("inverse", inverse, ("pinv", "cholesky"))
        check_positive("mscn_c", mscn_c)
        check_positive("jitter", jitter, allow_zero=True)
        if not isinstance(pristine_interval, int) or pristine_interval < 1:
            raise ValueError(f"pristine_interval: expected an int >= 1, got {pristine_interval!r}")
        if patch_size is not None and (not isinstance(patch_size, int) or patch_size < 8 or patch_size % 2):
            raise ValueError(f"patch_size: expected None (automatic) or an even int >= 8, got {patch_size!r}")
        if variant == "authors" and pristine == "online":
            raise ValueError("pristine: the authors' variant uses a fixed pristine file (e.g. model_face_grad.mat); "
                             "got 'online'")
        self.variant = variant
        self.map_kwargs = dict(channel_reduction=channel_reduction,
                               normalize=(variant == "paper") if normalize is None else bool(normalize),
                               mscn_c=float(mscn_c), patch_size=patch_size, downsample=downsample)
        self.inverse, self.jitter = inverse, float(jitter)
        self.pristine_interval = pristine_interval
        self.authors_res = authors_res
        if pristine == "online":
            self.pristine = PristineModel(36, ema_decay=ema_decay, min_samples=min_samples)
        else:
            self.pristine = PristineModel.from_file(pristine)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self._warned = False

    @property
    def online(self) -> bool:
        return not bool(self.pristine.fixed)

    def features(self, grad: torch.Tensor) -> torch.Tensor:
        """``(N * P, 36)`` features of gradient maps, as the pristine model sees them."""
        with float32_math():
            return gradient_map_features(grad, **self.map_kwargs)

    def update_pristine(self, real_grad: torch.Tensor, process_group=None) -> None:
        """Refresh the online model from gradients at real images (a collective under DDP)."""
        with torch.no_grad():
            self.pristine.update(self.features(real_grad.detach()).double(), process_group)

    def forward(self, grad: torch.Tensor) -> torch.Tensor:
        check_tensor("grad", grad, ndim=(4,))
        if not self.pristine.ready:
            if not self._warned:
                log.info("NIQE-GP: pristine model has %d of %d feature vectors; penalty is 0 until then",
                         int(self.pristine.seen), self.pristine.min_samples)
                self._warned = True
            return grad.new_zeros((), dtype=torch.float32)
        mu, cov = self.pristine.mu, self.pristine.cov
        if self.variant == "authors":
            with float32_math():
                gray = to_luma(grad.float())
                res = self.authors_res or min(gray.shape[-2:])
                return authors_niqe_score(gray, res, mu, cov).float()
        with float32_math():
            feats = self.features(grad)
            mu_t, cov_t = mvg_fit(feats.double())
            return niqe_distance(mu, cov, mu_t, cov_t, inverse=self.inverse, jitter=self.jitter).float()

    def penalty(self, batch: CriticBatch) -> torch.Tensor:
        # the refresh depends only on the call counter, so all ranks refresh together
        if self.online and int(self.calls) % self.pristine_interval == 0:
            self.update_pristine(batch.real_gradient(), batch.process_group)
        self.calls += 1
        return self(batch.interpolate_gradient())
