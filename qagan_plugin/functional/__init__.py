"""Pure tensor maths: no state, no configuration objects, no imports beyond torch."""
from .filters import downsample_half, gaussian_window_1d, pad2d, separable_filter
from .niqe import (aggd_fit, extract_patches, ggd_fit, mscn, mvg_fit, niqe, niqe_distance, niqe_features,
                   patch_features, rgb_to_gray_matlab, rho, rho_derivative, shape_inverse)
from .niqe_authors import authors_niqe_features, authors_niqe_score, tf1_resize_bilinear
from .sobolev import dual_exponent, dual_sobolev_norm, sobolev_filter, sobolev_norm, stable_norm
from .ssim import dq_distance, dq_from_components, ssim, ssim_components, to_luma

__all__ = [
    "aggd_fit", "authors_niqe_features", "authors_niqe_score", "downsample_half", "dq_distance",
    "dq_from_components", "dual_exponent", "dual_sobolev_norm", "extract_patches", "gaussian_window_1d",
    "ggd_fit", "mscn", "mvg_fit", "niqe", "niqe_distance", "niqe_features", "pad2d", "patch_features",
    "rgb_to_gray_matlab", "rho", "rho_derivative", "separable_filter", "shape_inverse", "sobolev_filter",
    "sobolev_norm", "ssim", "ssim_components", "stable_norm", "tf1_resize_bilinear", "to_luma",
]
