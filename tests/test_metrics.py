import pytest
import torch

from qagan_plugin.data.natural import natural_patches
from qagan_plugin.metrics import dq_diversity, laplacian_pyramid, set_niqe, sliced_wasserstein_distance


def test_laplacian_pyramid_reconstructs():
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    pyr = laplacian_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [32, 16, 8]
    from qagan_plugin.metrics import _blur

    cur = pyr[-1]
    for band in reversed(pyr[:-1]):
        up = torch.zeros_like(band)
        up[..., ::2, ::2] = cur
        cur = band + _blur(up, gain=4.0)
    assert torch.allclose(cur, x)


def test_swd_orders_distributions():
    real = natural_patches(128, 32, seed=0, split="valid")
    same = natural_patches(128, 32, seed=1, split="train")
    noise = torch.rand(128, 3, 32, 32) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(same, 3, 1, 1)
    d_same = sliced_wasserstein_distance(real, same)
    d_blur = sliced_wasserstein_distance(real, blurred)
    d_noise = sliced_wasserstein_distance(real, noise)
    assert set(d_same) == {"swd_32", "swd_16", "swd_mean"}
    assert d_same["swd_mean"] < d_blur["swd_mean"] < d_noise["swd_mean"]
    # descriptors are sampled at random positions, so a set against itself is small but not 0
    assert sliced_wasserstein_distance(real, real)["swd_mean"] < d_blur["swd_mean"]


def test_swd_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein_distance(torch.zeros(4, 3, 32, 32), torch.zeros(5, 3, 32, 32))
    with pytest.raises(ValueError, match="too small for SWD"):
        sliced_wasserstein_distance(torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 8))


def test_set_niqe_prefers_natural_patches():
    real = natural_patches(96, 32, seed=0)
    noise = torch.rand(96, 3, 32, 32) * 2 - 1
    assert set_niqe(real) < set_niqe(noise)


def test_dq_diversity():
    real = natural_patches(32, 32, seed=0)
    assert dq_diversity(real[:1].repeat(8, 1, 1, 1)) == pytest.approx(0.0, abs=1e-6)
    assert dq_diversity(real) > 0.5
    with pytest.raises(ValueError, match="at least 2 images"):
        dq_diversity(real[:1])
