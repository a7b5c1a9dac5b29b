"""NIQE: oracle scores (methods-spec A.1), the shape inverse (3.1, 3.5), gradients, MATLAB imresize."""
import math

import numpy as np
import pytest
import torch
from scipy.special import gamma as sp_gamma
from skimage import data

from qagan_plugin.functional import (aggd_fit, downsample_half, ggd_fit, mscn, mvg_fit, niqe, niqe_distance,
                                     niqe_features, patch_features, rho, rho_derivative, shape_inverse)

F64 = torch.float64


# ----------------------------------------------------------------------------- Appendix A.1
@pytest.fixture(scope="module")
def camera():
    return torch.from_numpy(data.camera().astype(np.float64))[None, None]


@pytest.fixture(scope="module")
def astronaut():
    return torch.from_numpy(data.astronaut().astype(np.float64)).permute(2, 0, 1)[None].contiguous()


def test_niqe_camera(camera):
    score = niqe(camera)
    assert score.shape == (1,) and score.dtype == F64
    assert abs(float(score) - 3.0962) < 5e-3


def test_niqe_camera_crop(camera):
    assert abs(float(niqe(camera[..., 128:384, 128:384])) - 3.5774) < 5e-3


def test_niqe_astronaut_rgb_quantized(astronaut):
    assert astronaut.shape == (1, 3, 512, 512)
    assert abs(float(niqe(astronaut, quantize=True)) - 3.066) < 5e-3


def test_niqe_grid_reproduces_matlab(camera):
    assert abs(float(niqe(camera, shape_method="grid")) - 3.0962) < 1e-3
    assert abs(float(niqe(camera[..., 128:384, 128:384], shape_method="grid")) - 3.5774) < 1e-3


def test_niqe_float32(camera):
    score = niqe(camera.float())
    assert score.dtype == torch.float32
    assert abs(float(score) - 3.0962) < 5e-3


def test_niqe_batch_and_data_range(camera):
    crop = camera[..., 128:384, 128:384]
    both = torch.cat([crop, camera[..., :256, :256]])
    scores = niqe(both)
    assert scores.shape == (2,)
    assert abs(float(scores[0]) - float(niqe(crop))) < 1e-9
    assert abs(float(scores[1]) - float(niqe(camera[..., :256, :256]))) < 1e-9
    # data_range rescales to [0, 255] internally
    assert abs(float(niqe(crop / 255.0, data_range=1.0)) - float(niqe(crop))) < 1e-8


# ----------------------------------------------------------------------------- rho and its inverse
def test_rho_oracles():
    a = torch.tensor([0.5, 1.0, 2.0, 3.0, 10.0], dtype=F64)
    expected = torch.tensor([0.3, 0.5, 2 / math.pi, 0.68446, 0.74054], dtype=F64)
    assert torch.allclose(rho(a), expected, atol=1e-5, rtol=0)
    assert abs(float(rho(torch.tensor(1e3, dtype=F64))) - 0.75) < 1e-3


def test_rho_derivative_matches_finite_differences():
    a = torch.linspace(0.25, 9.0, 40, dtype=F64)
    h = 1e-6
    fd = (rho(a + h) - rho(a - h)) / (2 * h)
    assert torch.allclose(rho_derivative(a), fd, rtol=1e-6, atol=1e-9)
    assert bool((rho_derivative(a) > 0).all())


@pytest.mark.parametrize("r, alpha", [(0.05, 0.1838), (0.10, 0.2431), (0.30, 0.5000), (0.50, 1.0000),
                                      (2 / math.pi, 2.0000), (0.70, 3.6124), (0.72, 5.0330)])
def test_shape_inverse_table(r, alpha):
    got = shape_inverse(torch.tensor([r], dtype=F64), bounds=(0.01, 20.0))
    assert abs(float(got) - alpha) < 1e-4


def test_shape_inverse_default_bounds_clamp():
    got = shape_inverse(torch.tensor([0.05, 0.7499], dtype=F64))
    assert float(got[0]) == pytest.approx(0.2)
    assert float(got[1]) == pytest.approx(10.0)


def _matlab_grid_argmin(r: np.ndarray) -> np.ndarray:
    a = np.arange(200, 10001) / 1000.0
    table = sp_gamma(2.0 / a) ** 2 / (sp_gamma(1.0 / a) * sp_gamma(3.0 / a))
    return a[np.argmin((table[None, :] - r[:, None]) ** 2, axis=1)]


def test_shape_inverse_exact_vs_matlab_grid():
    rng = np.random.default_rng(0)
    alphas = np.concatenate([rng.uniform(0.2, 10.0, 400), [0.2005, 0.75, 1.0, 2.0, 9.9995]])
    r = sp_gamma(2.0 / alphas) ** 2 / (sp_gamma(1.0 / alphas) * sp_gamma(3.0 / alphas))
    grid = _matlab_grid_argmin(r)
    rt = torch.from_numpy(r)
    exact = shape_inverse(rt).numpy()
    # the exact root recovers the alpha that generated r
    assert np.allclose(exact, alphas, atol=1e-8, rtol=0)
    # the grid picks the point nearest in rho, one of the two neighbours of the exact root; its distance
    # in alpha is half a step plus a curvature term of order step^2 * rho'' / rho' (< 1e-5 on [0.2, 10])
    assert np.max(np.abs(exact - grid)) <= 0.0005 + 1e-5
    assert np.all((grid >= np.floor(exact * 1000 - 1e-9) / 1000 - 1e-12)
                  & (grid <= np.ceil(exact * 1000 + 1e-9) / 1000 + 1e-12))
    # the package's own grid search equals MATLAB's argmin
    assert np.allclose(shape_inverse(rt, method="grid").numpy(), grid, atol=1e-12, rtol=0)


def test_rho_of_shape_inverse_is_identity():
    lo, hi = float(rho(torch.tensor(0.2, dtype=F64))), float(rho(torch.tensor(10.0, dtype=F64)))
    r = torch.linspace(lo + 1e-6, hi - 1e-6, 300, dtype=F64)
    assert float((rho(shape_inverse(r)) - r).abs().max()) < 1e-10


# ----------------------------------------------------------------------------- gradients
def _away_from_zero(shape, gen, low=0.1):
    x = torch.randn(shape, generator=gen, dtype=F64)
    return torch.sign(x) * (low + x.abs())


def test_gradcheck_shape_inverse():
    r = (0.2 + 0.5 * torch.rand(6, dtype=F64)).requires_grad_(True)
    assert torch.autograd.gradcheck(shape_inverse, (r,))


def test_shape_inverse_gradient_zero_on_bound():
    r = torch.tensor([0.01, 0.5, 0.76], dtype=F64, requires_grad=True)
    alpha = shape_inverse(r)
    alpha.sum().backward()
    alpha = alpha.detach()
    # forward is clamped to the bounds ...
    assert float(alpha[0]) == pytest.approx(0.2, abs=1e-12) and float(alpha[2]) == pytest.approx(10.0, abs=1e-9)
    assert float(r.grad[1]) > 0
    # ... so the true derivative there is 0
    assert float(r.grad[0]) == 0.0 and float(r.grad[2]) == 0.0


def test_gradcheck_aggd_and_ggd_fit():
    g = torch.Generator().manual_seed(1)
    x = _away_from_zero((3, 50), g, low=0.05).requires_grad_(True)
    assert bool(((aggd_fit(x)[0] > 0.21) & (aggd_fit(x)[0] < 9.9)).all())
    assert bool(((ggd_fit(x)[0] > 0.21) & (ggd_fit(x)[0] < 9.9)).all())
    assert torch.autograd.gradcheck(aggd_fit, (x,))
    assert torch.autograd.gradcheck(ggd_fit, (x,))


def test_aggd_fit_matches_direct_formula():
    g = torch.Generator().manual_seed(2)
    x = _away_from_zero((4, 200), g)
    alpha, bl, br = aggd_fit(x)
    for i in range(4):
        v = x[i].numpy()
        sl, sr = np.sqrt(np.mean(v[v < 0] ** 2)), np.sqrt(np.mean(v[v > 0] ** 2))
        gm = sl / sr
        rr = np.mean(np.abs(v)) ** 2 / np.mean(v ** 2)
        big_r = rr * (gm ** 3 + 1) * (gm + 1) / (gm ** 2 + 1) ** 2
        a = float(alpha[i])
        assert abs(sp_gamma(2 / a) ** 2 / (sp_gamma(1 / a) * sp_gamma(3 / a)) - big_r) < 1e-10
        ratio = np.sqrt(sp_gamma(1 / a) / sp_gamma(3 / a))
        assert abs(float(bl[i]) - sl * ratio) < 1e-10 and abs(float(br[i]) - sr * ratio) < 1e-10


def test_gradcheck_patch_features():
    g = torch.Generator().manual_seed(3)
    x = _away_from_zero((2, 8, 8), g, low=0.05).requires_grad_(True)
    out = patch_features(x)
    assert out.shape == (2, 18)
    alphas = out[:, [0, 2, 6, 10, 14]]
    # all shapes strictly inside MATLAB's [0.2, 10] (on a bound see test_shape_inverse_gradient_zero_on_bound)
    assert bool(((alphas > 0.21) & (alphas < 9.9)).all())
    assert torch.autograd.gradcheck(patch_features, (x,))


def _mscn_margin(img: torch.Tensor) -> float:
    """Smallest |value| among the MSCN coefficients and their neighbour products at both scales."""
    margins = []
    x = img
    for scale in (1, 2):
        if scale == 2:
            x = downsample_half(x)
        c = mscn(x)[0, 0]
        p = c.shape[-1]
        margins.append(float(c.abs().min()))
        for s in ((0, 1), (1, 0), (1, 1), (1, -1)):
            margins.append(float((c * torch.roll(c, shifts=s, dims=(-2, -1))).abs().min()))
        assert p == 16 // scale
    return min(margins)


def test_gradcheck_niqe_features():
    # pick the first seeded image whose MSCN values and products stay clear of 0 (so that the finite
    # differences never move a coefficient across the AGGD's left/right split) and whose shapes are
    # strictly inside [0.2, 10] (on a bound see test_shape_inverse_gradient_zero_on_bound)
    for seed in range(200):
        g = torch.Generator().manual_seed(seed)
        img = 128 + 40 * torch.randn(1, 1, 16, 16, generator=g, dtype=F64)
        alphas = niqe_features(img, patch_size=16)[..., [0, 2, 6, 10, 14, 18, 20, 24, 28, 32]]
        if _mscn_margin(img) > 1e-3 and bool(((alphas > 0.21) & (alphas < 9.9)).all()):
            break
    else:  # pragma: no cover
        pytest.fail("no suitable test image found")
    img.requires_grad_(True)
    feats = niqe_features(img, patch_size=16, mscn_c=1.0)
    assert feats.shape == (1, 1, 36) and bool(torch.isfinite(feats).all())
    # fast mode (random projections of the Jacobian): the full 256x36 Jacobian takes ~40 s on 2 cores
    assert torch.autograd.gradcheck(lambda t: niqe_features(t, patch_size=16, mscn_c=1.0), (img,),
                                    eps=1e-6, atol=1e-5, fast_mode=True)


def _spd(a: torch.Tensor) -> torch.Tensor:
    return a @ a.transpose(-1, -2) + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype)


@pytest.mark.parametrize("inverse", ["pinv", "cholesky"])
def test_gradcheck_niqe_distance(inverse):
    g = torch.Generator().manual_seed(4)
    mu_p, mu_t = (torch.randn(4, generator=g, dtype=F64).requires_grad_(True) for _ in range(2))
    a_p, a_t = (torch.randn(4, 4, generator=g, dtype=F64).requires_grad_(True) for _ in range(2))

    def fn(mp, ap, mt, at):
        return niqe_distance(mp, _spd(ap), mt, _spd(at), inverse=inverse, jitter=0.0)

    assert torch.autograd.gradcheck(fn, (mu_p, a_p, mu_t, a_t))


def test_niqe_distance_value():
    g = torch.Generator().manual_seed(5)
    mu_p, mu_t = torch.randn(4, generator=g, dtype=F64), torch.randn(4, generator=g, dtype=F64)
    cp, ct = _spd(torch.randn(4, 4, generator=g, dtype=F64)), _spd(torch.randn(4, 4, generator=g, dtype=F64))
    d = (mu_p - mu_t).numpy()
    expected = math.sqrt(d @ np.linalg.solve(((cp + ct) / 2).numpy(), d))
    for inverse in ("pinv", "cholesky"):
        got = niqe_distance(mu_p, cp, mu_t, ct, inverse=inverse, jitter=0.0)
        assert abs(float(got) - expected) < 1e-9
    # jitter is relative to the mean diagonal and small
    assert abs(float(niqe_distance(mu_p, cp, mu_t, ct, inverse="cholesky")) - expected) < 1e-4 * expected


def test_gradcheck_mvg_fit():
    f = torch.randn(7, 4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(mvg_fit, (f,))
    mu, cov = mvg_fit(f.detach())
    assert np.allclose(mu.numpy(), f.detach().numpy().mean(0))
    assert np.allclose(cov.numpy(), np.cov(f.detach().numpy(), rowvar=False))


# ----------------------------------------------------------------------------- MATLAB imresize(., 0.5)
def _matlab_cubic(x):
    a = np.abs(x)
    return ((1.5 * a ** 3 - 2.5 * a ** 2 + 1) * (a <= 1)
            + (-0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2) * ((a > 1) & (a <= 2)))


def _matlab_contributions(in_len: int, scale: float):
    """MATLAB imresize.m ``contributions`` for the cubic kernel with antialiasing (scale < 1)."""
    out_len = int(math.ceil(in_len * scale))
    kernel_width = 4.0 / scale

    def h(t):
        return scale * _matlab_cubic(scale * t)

    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]          # 1-based, may be out of range
    w = h(u[:, None] - idx)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    idx = aux[np.mod(idx - 1, aux.size).astype(int)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], idx[:, keep].astype(int) - 1


def _matlab_imresize_half(img: np.ndarray) -> np.ndarray:
    out = img
    for axis in (0, 1):
        w, idx = _matlab_contributions(out.shape[axis], 0.5)
        moved = np.moveaxis(out, axis, 0)
        res = np.einsum("ok,ok...->o...", w, moved[idx])
        out = np.moveaxis(res, 0, axis)
    return out


@pytest.mark.parametrize("shape", [(10, 12), (9, 11), (16, 7)])
def test_downsample_half_is_matlab_imresize(shape):
    rng = np.random.default_rng(sum(shape))
    img = rng.uniform(0, 255, size=shape)
    expected = _matlab_imresize_half(img)
    got = downsample_half(torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert got.shape == expected.shape == (math.ceil(shape[0] / 2), math.ceil(shape[1] / 2))
    assert np.allclose(got, expected, atol=1e-10, rtol=0)


def test_downsample_half_other_methods():
    x = torch.rand(1, 2, 8, 6, dtype=F64)
    assert torch.allclose(downsample_half(x, "avgpool"), torch.nn.functional.avg_pool2d(x, 2))
    assert torch.equal(downsample_half(x, "decimate"), x[..., ::2, ::2])
    with pytest.raises(ValueError, match="method"):
        downsample_half(x, "nearest")


# ----------------------------------------------------------------------------- MSCN and features
def test_mscn_constant_image_is_zero():
    x = torch.full((2, 1, 20, 20), 87.0, dtype=F64)
    assert float(mscn(x).abs().max()) < 1e-10
    assert float(mscn(x, denominator="var", padding="zero", window_size=3, sigma=0.5)[..., 2:-2, 2:-2]
                 .abs().max()) < 1e-10


def test_mscn_matches_direct_formula():
    import scipy.ndimage as ndi

    rng = np.random.default_rng(1)
    img = rng.uniform(0, 255, (20, 24))
    w1 = np.exp(-np.arange(-3, 4) ** 2 / (2 * (7 / 6) ** 2))
    w1 /= w1.sum()
    w = np.outer(w1, w1)
    mu = ndi.correlate(img, w, mode="nearest")
    sd = np.sqrt(np.abs(ndi.correlate(img * img, w, mode="nearest") - mu * mu))
    expected = (img - mu) / (sd + 1)
    got = mscn(torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert np.allclose(got, expected, atol=1e-10)


def test_niqe_features_finite_on_natural_image(camera):
    feats = niqe_features(camera[..., :192, :288], patch_size=96)
    assert feats.shape == (1, 6, 36)
    assert bool(torch.isfinite(feats).all())
    alphas = feats[..., [0, 2, 6, 10, 14, 18, 20, 24, 28, 32]]
    assert bool(((alphas >= 0.2) & (alphas <= 10)).all())
    # scale parameters are positive
    assert bool((feats[..., [1, 4, 5, 8, 9, 12, 13, 16, 17]] > 0).all())


def test_niqe_is_differentiable(camera):
    img = camera[..., 128:224, 128:224].clone().requires_grad_(True)
    score = niqe(img)
    score.sum().backward()
    assert img.grad is not None and bool(torch.isfinite(img.grad).all()) and float(img.grad.abs().sum()) > 0


# ----------------------------------------------------------------------------- bad input
def test_niqe_bad_inputs(camera):
    with pytest.raises(ValueError, match=r"images: expected a 4-D tensor"):
        niqe(camera[0])
    with pytest.raises(ValueError, match=r"1 \(grey\) or 3 \(RGB\) channels"):
        niqe(camera.expand(1, 2, 512, 512))
    with pytest.raises(ValueError, match=r"smaller than one 96x96"):
        niqe(camera[..., :64, :200])
    with pytest.raises(ValueError, match=r"patch_size: expected an even int"):
        niqe(camera, patch_size=95)
    bad = camera.clone()
    bad[0, 0, 10, 10] = float("nan")
    with pytest.raises(ValueError, match=r"images: expected finite values"):
        niqe(bad)
    with pytest.raises(TypeError, match=r"images: expected a torch\.Tensor"):
        niqe(np.zeros((1, 1, 96, 96)))
    with pytest.raises(ValueError, match=r"x: expected one channel"):
        niqe_features(torch.rand(1, 3, 96, 96))
    with pytest.raises(ValueError, match=r"method"):
        shape_inverse(torch.tensor([0.5]), method="table")
    with pytest.raises(ValueError, match=r"bounds"):
        shape_inverse(torch.tensor([0.5]), bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match=r"inverse"):
        niqe_distance(torch.zeros(2), torch.eye(2), torch.zeros(2), torch.eye(2), inverse="lu")
    with pytest.raises(ValueError, match=r"niqe_distance: expected mu"):
        niqe_distance(torch.zeros(2), torch.eye(3), torch.zeros(2), torch.eye(2))
