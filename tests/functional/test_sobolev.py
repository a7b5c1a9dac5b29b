"""Sobolev filter, dual exponents and stable L^p norms (methods-spec section 4)."""
import math

import numpy as np
import pytest
import torch

from qagan_plugin.functional import dual_exponent, dual_sobolev_norm, sobolev_filter, sobolev_norm, stable_norm

F64 = torch.float64


def _numpy_sobolev(x: np.ndarray, s: float, c: float = 5.0) -> np.ndarray:
    """F^{-1}[(1 + c |xi|^2)^{s/2} F x] with xi_k = min(k, N - k) / floor(N / 2) per axis (BWGAN code)."""
    h, w = x.shape[-2:]
    ky, kx = np.arange(h), np.arange(w)
    xi_y = np.minimum(ky, h - ky) / (h // 2)
    xi_x = np.minimum(kx, w - kx) / (w // 2)
    mult = (1.0 + c * (xi_y[:, None] ** 2 + xi_x[None, :] ** 2)) ** (s / 2.0)
    return np.real(np.fft.ifft2(np.fft.fft2(x, axes=(-2, -1)) * mult, axes=(-2, -1)))


def test_s_zero_is_identity():
    x = torch.randn(2, 3, 8, 8, dtype=F64)
    assert torch.equal(sobolev_filter(x, 0.0), x)


@pytest.mark.parametrize("s", [-1.5, 1.0, 2.0, 0.5])
@pytest.mark.parametrize("hw", [(16, 16), (15, 17), (8, 5)])
def test_filter_matches_numpy_and_inverts(s, hw):
    x = torch.randn(2, 3, *hw, dtype=F64)
    y = sobolev_filter(x, s)
    assert y.shape == x.shape and y.dtype == F64
    assert np.allclose(y.numpy(), _numpy_sobolev(x.numpy(), s), atol=1e-12)
    assert torch.allclose(sobolev_filter(y, -s), x, atol=1e-12)
    assert not torch.allclose(y, x, atol=1e-3)


def test_nyquist_checkerboard_and_constant():
    i = torch.arange(8)
    checker = ((-1.0) ** (i[:, None] + i[None, :])).to(F64).expand(1, 2, 8, 8)
    for s, factor in ((1.0, 3.3166), (-1.5, 0.1656)):
        assert abs(11 ** (s / 2) - factor) < 1e-4
        out = sobolev_filter(checker, s)
        assert torch.allclose(out, checker * 11 ** (s / 2), atol=1e-12)
    const = torch.full((1, 3, 8, 10), 0.7, dtype=F64)
    for s in (-1.5, 1.0, 2.0):
        assert torch.allclose(sobolev_filter(const, s), const, atol=1e-12)


def test_filter_dtypes():
    x = torch.randn(1, 1, 8, 8)
    assert sobolev_filter(x, 1.0).dtype == torch.float32
    y16 = sobolev_filter(x.half(), 1.0)
    assert y16.dtype == torch.float32
    assert torch.allclose(y16, sobolev_filter(x.half().float(), 1.0))


@pytest.mark.parametrize("p", [1, 2, 10, 1.5, math.inf])
def test_stable_norm_equals_vector_norm(p):
    x = torch.randn(3, 2, 5, 7, dtype=F64) * 10
    expected = torch.linalg.vector_norm(x, ord=p, dim=(1, 2, 3))
    assert torch.allclose(stable_norm(x, p), expected, rtol=1e-12, atol=0)


def test_stable_norm_large_p_does_not_overflow():
    x = torch.full((1, 1, 4, 4), 1e3)
    got = stable_norm(x, 200)
    assert bool(torch.isfinite(got).all())
    assert abs(float(got) - 1e3 * 16 ** (1 / 200)) < 1e-2


def test_dual_exponent():
    assert dual_exponent(1) == math.inf
    assert dual_exponent(2) == 2
    assert abs(dual_exponent(10) - 10 / 9) < 1e-15
    assert dual_exponent(math.inf) == 1
    assert abs(dual_exponent(1.5) - 3.0) < 1e-15


@pytest.mark.parametrize("p", [2, 10, 1, math.inf])
def test_zero_input_norm_and_gradient(p):
    x = torch.zeros(2, 3, 8, 8, dtype=F64, requires_grad=True)
    for fn in (sobolev_norm, dual_sobolev_norm):
        out = fn(x, 1.0, p)
        assert torch.equal(out.detach(), torch.zeros(2, dtype=F64))
        (g,) = torch.autograd.grad(out.sum(), x)
        assert bool(torch.isfinite(g).all())
        assert float(g.abs().max()) == 0.0


@pytest.mark.parametrize("s, p", [(1.0, 2), (-1.5, 3), (0.0, 10), (2.0, 1.2)])
def test_gradcheck_norms(s, p):
    x = torch.randn(2, 1, 6, 5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sobolev_norm(t, s, p), (x,))
    assert torch.autograd.gradcheck(lambda t: dual_sobolev_norm(t, s, p), (x,))


def test_dual_norm_definition():
    x = torch.randn(2, 3, 8, 8, dtype=F64)
    s, p = 1.0, 4.0
    expected = torch.linalg.vector_norm(sobolev_filter(x, -s), ord=4 / 3, dim=(1, 2, 3))
    assert torch.allclose(dual_sobolev_norm(x, s, p), expected, rtol=1e-12)
    # duality pairing: <x, y> <= ||x||_{W^{s,p}} ||y||_{(W^{s,p})^*}
    y = torch.randn(2, 3, 8, 8, dtype=F64)
    pairing = (x * y).sum(dim=(1, 2, 3)).abs()
    assert bool((pairing <= sobolev_norm(x, s, p) * dual_sobolev_norm(y, s, p) + 1e-9).all())


def test_bad_p_and_s():
    x = torch.randn(1, 1, 4, 4)
    for bad in (0.5, "a", 0, -2, True):
        with pytest.raises(ValueError, match=r"^p: expected a number >= 1"):
            stable_norm(x, bad)
        with pytest.raises(ValueError, match=r"^p: "):
            dual_exponent(bad)
        with pytest.raises(ValueError, match=r"^p: "):
            dual_sobolev_norm(x, 1.0, bad)
        with pytest.raises(ValueError, match=r"^p: "):
            sobolev_norm(x, 1.0, bad)
    with pytest.raises(ValueError, match=r"^s: expected a finite number"):
        sobolev_filter(x, float("nan"))
    with pytest.raises(ValueError, match=r"x: expected a 4-D tensor"):
        sobolev_filter(torch.randn(4, 4), 1.0)
