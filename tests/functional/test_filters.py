import pytest
import torch
import torch.nn.functional as F

from qagan_plugin.functional import filters


@pytest.mark.parametrize("padding", ["valid", "zero", "replicate", "reflect", "symmetric", "circular"])
@pytest.mark.parametrize("k", [3, 8, 11])
def test_matmul_and_convolution_paths_agree(monkeypatch, padding, k):
    x = torch.rand(2, 3, 40, 37, dtype=torch.float64)
    taps = filters.gaussian_window_1d(k, 1.5, dtype=torch.float64)
    a = filters.separable_filter(x, taps, padding)
    monkeypatch.setattr(filters, "MATMUL_MAX_SIZE", 0)
    b = filters.separable_filter(x, taps, padding)
    assert a.shape == b.shape and torch.allclose(a, b, atol=1e-13)
    # and both equal one 2-D correlation with the outer-product window
    if padding == "valid":
        w = torch.outer(taps, taps).view(1, 1, k, k).expand(3, 1, k, k)
        assert torch.allclose(a, F.conv2d(x, w, groups=3), atol=1e-13)


def test_band_matrix():
    taps = torch.tensor([1.0, 2.0, 3.0])
    m = filters.band_matrix(5, taps)
    assert m.tolist() == [[1, 2, 3, 0, 0], [0, 1, 2, 3, 0], [0, 0, 1, 2, 3]]
