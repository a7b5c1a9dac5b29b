"""SSIM, its L/CS maps and the distance dQ (methods-spec sections 1 and A.2)."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from skimage import data, filters
from skimage.metrics import structural_similarity

from qagan_plugin.functional import (dq_distance, dq_from_components, gaussian_window_1d, ssim,
                                     ssim_components)


# ----------------------------------------------------------------------------- helpers
def _sk_ssim(x_hwc: np.ndarray, y_hwc: np.ndarray, data_range: float) -> float:
    return structural_similarity(x_hwc, y_hwc, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range, channel_axis=-1)


def _to_nchw(a_hwc: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a_hwc)).permute(2, 0, 1)[None].to(dtype)


def _natural_crops():
    """(name, HxWxC float64 in [0, data_range], data_range)."""
    cam = data.camera()[150:246, 200:296].astype(np.float64)[..., None]           # grey, 0..255
    ast = data.astronaut()[30:126, 180:276].astype(np.float64) / 255.0              # RGB, 0..1
    che = data.chelsea()[100:196, 150:246].astype(np.float64) / 255.0               # RGB, 0..1
    return [("camera", cam, 255.0), ("astronaut", ast, 1.0), ("chelsea", che, 1.0)]


def _distortions(img: np.ndarray, data_range: float, rng: np.random.Generator):
    noisy = img + rng.normal(0.0, 0.08 * data_range, size=img.shape)
    blurred = filters.gaussian(img, sigma=1.5, channel_axis=-1, preserve_range=True)
    return [("noise", noisy), ("blur", blurred)]


CASES = []
for _name, _img, _dr in _natural_crops():
    for _dname, _dist in _distortions(_img, _dr, np.random.default_rng(7)):
        CASES.append(pytest.param(_img, _dist, _dr, id=f"{_name}-{_dname}"))


# ----------------------------------------------------------------------------- SSIM vs skimage
@pytest.mark.parametrize("img, dist, data_range", CASES)
def test_ssim_matches_skimage_float64(img, dist, data_range):
    expected = _sk_ssim(img, dist, data_range)
    got = ssim(_to_nchw(img), _to_nchw(dist), data_range=data_range)
    assert got.shape == (1,)
    assert got.dtype == torch.float64
    assert abs(float(got) - expected) < 1e-6
    # a real distortion: SSIM clearly below 1
    assert expected < 0.99


@pytest.mark.parametrize("img, dist, data_range", CASES)
def test_ssim_matches_skimage_float32(img, dist, data_range):
    expected = _sk_ssim(img, dist, data_range)
    got = ssim(_to_nchw(img, torch.float32), _to_nchw(dist, torch.float32), data_range=data_range)
    assert got.dtype == torch.float32
    assert abs(float(got) - expected) < 1e-4


def test_ssim_batch_is_per_image():
    crops = _natural_crops()
    _, ast, _ = crops[1]
    _, che, _ = crops[2]
    rng = np.random.default_rng(3)
    ast_n = np.clip(ast + rng.normal(0, 0.05, ast.shape), 0, 1)
    che_b = filters.gaussian(che, sigma=2.0, channel_axis=-1, preserve_range=True)
    x = torch.cat([_to_nchw(ast), _to_nchw(che)])
    y = torch.cat([_to_nchw(ast_n), _to_nchw(che_b)])
    got = ssim(x, y, data_range=1.0)
    assert got.shape == (2,)
    assert abs(float(got[0]) - _sk_ssim(ast, ast_n, 1.0)) < 1e-6
    assert abs(float(got[1]) - _sk_ssim(che, che_b, 1.0)) < 1e-6


def test_ssim_of_identical_images_is_one():
    x = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    assert torch.allclose(ssim(x, x, data_range=1.0), torch.ones(2, dtype=torch.float64), atol=1e-12)


# ----------------------------------------------------------------------------- A.2 fixture
@pytest.fixture(scope="module")
def camera_blur():
    cam = data.camera().astype(np.float64)
    blur = filters.gaussian(cam, sigma=2, preserve_range=True)
    return cam, blur


def _numpy_lcs_maps(x: np.ndarray, y: np.ndarray, data_range: float):
    """Direct L and CS maps: Gaussian sigma 1.5 truncated at 3.5 sigma (11 taps), valid crop of 5 px."""
    def filt(a):
        return ndi.gaussian_filter(a, sigma=1.5, truncate=3.5)[5:-5, 5:-5]

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    cs = (2 * cxy + c2) / (vx + vy + c2)
    return lum, cs


def test_appendix_a2_camera_vs_blurred(camera_blur):
    cam, blur = camera_blur
    x = torch.from_numpy(cam)[None, None]
    y = torch.from_numpy(blur)[None, None]
    oracle = structural_similarity(cam, blur, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=255)
    # the fixture is the one of methods-spec A.2 (up to the blur implementation)
    assert abs(oracle - 0.748042) < 2e-3
    assert abs(float(ssim(x, y, data_range=255)) - oracle) < 1e-6

    lum_np, cs_np = _numpy_lcs_maps(cam, blur, 255.0)
    lum, cs = ssim_components(x, y, data_range=255)
    assert lum.shape == (1, 1, 502, 502) and cs.shape == (1, 1, 502, 502)
    assert np.allclose(lum[0, 0].numpy(), lum_np, atol=1e-9, rtol=0)
    assert np.allclose(cs[0, 0].numpy(), cs_np, atol=1e-9, rtol=0)
    assert abs(float(lum.mean()) - lum_np.mean()) < 1e-9
    assert abs(float(cs.mean()) - cs_np.mean()) < 1e-9
    # sanity against the spec's numbers, which came from another blur implementation (hence loose)
    assert abs(lum_np.mean() - 0.997111) < 5e-3 and abs(cs_np.mean() - 0.750183) < 5e-3

    mean_sqrt = float(np.sqrt(2.0 - lum_np - cs_np).mean())
    sqrt_mean = float(np.sqrt(2.0 - lum_np.mean() - cs_np.mean()))
    got_ms = dq_distance(x, y, pooling="mean_sqrt", data_range=255)
    got_sm = dq_distance(x, y, pooling="sqrt_mean", data_range=255)
    assert abs(float(got_ms) - mean_sqrt) < 1e-9
    assert abs(float(got_sm) - sqrt_mean) < 1e-9
    assert abs(mean_sqrt - 0.407082) < 5e-3 and abs(sqrt_mean - 0.502698) < 5e-3
    # Jensen: mean of roots <= root of means
    assert float(got_ms) <= float(got_sm)


def test_dq_from_components_per_channel_rms():
    lum = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    cs = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    rad = 2 - lum - cs
    assert torch.allclose(dq_from_components(lum, cs, pooling="sqrt_mean"), rad.mean(dim=(1, 2, 3)).sqrt())
    assert torch.allclose(dq_from_components(lum, cs, pooling="mean_sqrt"),
                          rad.mean(dim=1).sqrt().mean(dim=(1, 2)))


# ----------------------------------------------------------------------------- dQ metric properties
def _blur_torch(x: torch.Tensor, sigma: float) -> torch.Tensor:
    taps = gaussian_window_1d(7, sigma, dtype=x.dtype)
    c = x.shape[1]
    xp = torch.nn.functional.pad(x, (3, 3, 3, 3), mode="reflect")
    xp = torch.nn.functional.conv2d(xp, taps.view(1, 1, 7, 1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(xp, taps.view(1, 1, 1, 7).repeat(c, 1, 1, 1), groups=c)


@pytest.fixture(scope="module")
def image_pool():
    g = torch.Generator().manual_seed(11)
    base = torch.rand(6, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1
    smooth = _blur_torch(torch.rand(4, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1, 2.0) * 3
    smooth = smooth.clamp(-1, 1)
    originals = torch.cat([base, smooth])
    noisy = (originals + 0.15 * torch.randn(originals.shape, generator=g, dtype=torch.float64)).clamp(-1, 1)
    blurred = _blur_torch(originals, 1.2)
    return torch.cat([originals, noisy, blurred])


@pytest.mark.parametrize("pooling", ["sqrt_mean", "mean_sqrt"])
def test_dq_paper_is_a_metric(image_pool, pooling):
    pool = image_pool
    n = pool.shape[0]
    # identity of indiscernibles (the zero side)
    self_d = dq_distance(pool, pool.clone(), pooling=pooling)
    assert float(self_d.abs().max()) < 1e-6
    g = torch.Generator().manual_seed(5)
    idx = torch.randint(0, n, (30, 3), generator=g)
    # make sure noisy/blurred copies of the same original appear together in some triples
    idx[:10, 1] = idx[:10, 0] % 10 + 10
    idx[:10, 2] = idx[:10, 0] % 10 + 20
    a, b, c = pool[idx[:, 0]], pool[idx[:, 1]], pool[idx[:, 2]]
    # the tightest triples: b on the segment between a and c
    t = torch.rand(10, 1, 1, 1, generator=g, dtype=torch.float64)
    b[20:] = t * a[20:] + (1 - t) * c[20:]
    d_ab = dq_distance(a, b, pooling=pooling)
    d_ba = dq_distance(b, a, pooling=pooling)
    d_bc = dq_distance(b, c, pooling=pooling)
    d_ac = dq_distance(a, c, pooling=pooling)
    assert torch.allclose(d_ab, d_ba, atol=1e-12, rtol=0)
    assert bool((d_ac <= d_ab + d_bc + 1e-12).all())
    distinct = idx[:, 0] != idx[:, 1]
    distinct[20:] = idx[20:, 0] != idx[20:, 2]
    assert bool((d_ab[distinct] > 1e-3).all())
    for d in (d_ab, d_bc, d_ac):
        assert bool(((d >= 0) & (d < 2)).all())


def test_dq_values_stay_below_two_for_opposite_images():
    checker = (torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2
    x = (0.5 + 0.5 * checker.to(torch.float64)).expand(1, 3, 32, 32).clone()
    y = -x
    for pooling in ("sqrt_mean", "mean_sqrt"):
        d = dq_distance(x, y, pooling=pooling)
        assert 1.9 < float(d) < 2.0


# ----------------------------------------------------------------------------- authors' variant oracles (1.10)
def _flat(value: float, size: int = 16) -> torch.Tensor:
    return torch.full((1, 1, size, size), value, dtype=torch.float64)


def test_authors_identical_flat_images():
    x = _flat(0.3)
    d = dq_distance(x, x.clone(), variant="authors", padding="replicate")
    assert abs(float(d) - 0.85749) < 1e-5
    # with the authors' zero padding, the interior pixels give the same value
    lum, cs = ssim_components(x, x.clone(), window_size=8, padding="zero", cs_denominator_eps=0.01)
    interior = (2 - lum - cs).sqrt()[..., 3:-4, 3:-4]
    assert torch.allclose(interior, torch.full_like(interior, 0.857493), atol=1e-5)
    # ...while the border differs (zero padding pulls the local mean toward 0)
    assert float((2 - lum - cs).sqrt()[..., 0, 0]) != pytest.approx(0.857493, abs=1e-4)
    # principled: exactly zero
    assert float(dq_distance(x, x.clone(), variant="authors", padding="replicate", cs_denominator_eps=0.0)) < 1e-7


def test_authors_flat_zero_vs_one():
    x, y = _flat(0.0), _flat(1.0)
    d = dq_distance(x, y, variant="authors", padding="replicate")
    assert abs(float(d) - 1.31715) < 1e-5
    lum, cs = ssim_components(x, y, window_size=8, padding="replicate", cs_denominator_eps=0.01)
    assert torch.allclose(lum, torch.full_like(lum, 3.9984e-4), atol=1e-8)
    exact = dq_distance(x, y, variant="authors", padding="replicate", cs_denominator_eps=0.0)
    assert abs(float(exact) - 0.99980) < 1e-5
    # the paper variant (valid 11x11) gives the exact value too
    assert abs(float(dq_distance(x, y)) - 0.99980) < 1e-5


def test_authors_window_8x8():
    w1 = gaussian_window_1d(8, 1.5, dtype=torch.float64)
    w2 = torch.outer(w1, w1)
    expected_row = torch.tensor([0.0098, 0.0297, 0.0578, 0.0721, 0.0578, 0.0297, 0.0098, 0.0021],
                                dtype=torch.float64)
    assert torch.allclose(w2[3], expected_row, atol=1e-4, rtol=0)
    assert abs(float(w2.sum()) - 1.0) < 1e-12
    peak = int(torch.argmax(w2))
    assert divmod(peak, 8) == (3, 3)   # grid -3..4: index 3 is offset 0
    # symmetric about offset 0 except the extra tap at +4
    assert torch.allclose(w1[:7], w1[:7].flip(0), atol=1e-15)
    assert float(w1[7]) < float(w1[0])


def test_odd_window_is_symmetric_and_normalised():
    for size in (7, 11):
        w = gaussian_window_1d(size, 1.5, dtype=torch.float64)
        assert abs(float(w.sum()) - 1) < 1e-12
        assert torch.allclose(w, w.flip(0), atol=1e-15)
        assert int(torch.argmax(w)) == size // 2


def test_authors_default_is_luma_and_mean_sqrt():
    torch.manual_seed(1)
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64) * 2 - 1
    y = torch.rand(2, 3, 16, 16, dtype=torch.float64) * 2 - 1
    wts = torch.tensor([0.2989, 0.5870, 0.1140], dtype=torch.float64).view(1, 3, 1, 1)
    gx, gy = (x * wts).sum(1, keepdim=True), (y * wts).sum(1, keepdim=True)
    lum, cs = ssim_components(gx, gy, window_size=8, padding="zero", cs_denominator_eps=0.01)
    expected = (2 - lum - cs).sqrt().mean(dim=(1, 2, 3))
    assert torch.allclose(dq_distance(x, y, variant="authors"), expected, atol=1e-12)


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_dq_sqrt_mean():
    torch.manual_seed(2)
    x = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: dq_distance(a, b, window_size=5, pooling="sqrt_mean", data_range=1.0), (x, y))


def test_gradcheck_ssim():
    torch.manual_seed(3)
    x = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ssim(a, b, data_range=1.0, window_size=7), (x, y))


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs():
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        ssim(np.zeros((1, 1, 16, 16)), x)
    with pytest.raises(TypeError, match=r"y: expected a torch\.Tensor"):
        dq_distance(x, [[0.0]])
    with pytest.raises(ValueError, match=r"x: expected a 4-D tensor"):
        ssim(torch.rand(1, 16, 16), torch.rand(1, 16, 16))
    with pytest.raises(ValueError, match=r"x and y: expected the same shape"):
        ssim(x, torch.rand(1, 1, 16, 17))
    with pytest.raises(ValueError, match=r"too small.*11x11"):
        ssim(torch.rand(1, 1, 10, 16), torch.rand(1, 1, 10, 16))
    with pytest.raises(ValueError, match=r"too small"):
        dq_distance(torch.rand(1, 3, 10, 10), torch.rand(1, 3, 10, 10))
    bad = x.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x: expected finite values"):
        ssim(bad, x)
    with pytest.raises(ValueError, match=r"y: expected finite values"):
        dq_distance(x, bad)
    with pytest.raises(ValueError, match=r"variant"):
        dq_distance(x, x, variant="nonsense")
    with pytest.raises(ValueError, match=r"pooling"):
        dq_distance(x, x, pooling="max")
    with pytest.raises(ValueError, match=r"padding"):
        dq_distance(x, x, padding="mirror")
    with pytest.raises(ValueError, match=r"color_mode"):
        dq_distance(x, x, color_mode="hsv")
    with pytest.raises(ValueError, match=r"data_range"):
        ssim(x, x, data_range=0)
    with pytest.raises(TypeError, match=r"floating-point"):
        ssim(torch.zeros(1, 1, 16, 16, dtype=torch.long), torch.zeros(1, 1, 16, 16, dtype=torch.long))
    with pytest.raises(ValueError, match=r"luma conversion expects 1 or 3 channels"):
        dq_distance(torch.rand(1, 2, 16, 16), torch.rand(1, 2, 16, 16), variant="authors")
