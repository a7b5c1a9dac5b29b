"""Critic penalties: values against direct formulas, gradients, caching, robustness, NIQE-GP online."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from qagan_plugin.functional import (dq_distance, mvg_fit, niqe_distance, niqe_features, sobolev_filter,
                                     to_luma)
from qagan_plugin.regularizers import (CriticBatch, DriftPenalty, NIQEGradientPenalty, SobolevGradientPenalty,
                                       SSIMGradientPenalty, WGANGradientPenalty, banach_gp, banach_scales,
                                       drift_penalty, gradient_map_features, gradient_maps, input_gradient,
                                       interpolate, niqe_gp, ssim_gp, wgan_gp)

F64 = torch.float64


# ----------------------------------------------------------------------------- helpers
class _MeanFlatten(nn.Module):
    def forward(self, x):
        return x.flatten(1).mean(1)


def tiny_critic(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 3, padding=1),
                         _MeanFlatten())


def make_batch(critic, n=4, size=16, seed=0, generator_seed=1):
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    fake = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    return CriticBatch(critic, real, fake, critic(real), critic(fake),
                       generator=torch.Generator().manual_seed(generator_seed))


def random_spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=F64)


def random_pristine(seed: int = 0):
    g = torch.Generator().manual_seed(seed + 100)
    return torch.randn(36, generator=g, dtype=F64), random_spd(36, seed)


def directional_fd_check(fn, x: torch.Tensor, h: float, rtol: float, n_dirs: int = 4, seed: int = 0):
    """Compare autograd's directional derivatives with central differences (fn may compute in float32)."""
    x = x.detach().to(F64).requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x)
    assert bool(torch.isfinite(grad).all())
    g = torch.Generator().manual_seed(seed)
    for _ in range(n_dirs):
        v = torch.randn(x.shape, generator=g, dtype=F64)
        v = v / v.norm() * x.detach().norm().clamp_min(1.0)
        with torch.no_grad():
            fd = (fn(x + h * v).double() - fn(x - h * v).double()) / (2 * h)
        ad = (grad * v).sum()
        assert abs(float(ad) - float(fd)) <= rtol * max(abs(float(fd)), abs(float(ad))) + 1e-6, (float(ad), float(fd))


# ----------------------------------------------------------------------------- values
def test_wgan_gp_direct():
    g = torch.randn(5, 3, 8, 8)
    norms = g.flatten(1).norm(dim=1)
    assert torch.allclose(wgan_gp(g), ((norms - 1) ** 2).mean(), rtol=1e-6)
    assert torch.allclose(wgan_gp(g, target=3.0), ((norms - 3) ** 2).mean() / 9, rtol=1e-6)
    assert torch.allclose(WGANGradientPenalty(2.0)(g), ((norms - 2) ** 2).mean() / 4, rtol=1e-6)
    assert wgan_gp(g).dtype == torch.float32 and wgan_gp(g).dim() == 0


def test_drift_direct():
    d = torch.randn(7)
    assert torch.allclose(drift_penalty(d), (d ** 2).mean())
    assert torch.allclose(DriftPenalty()(d), (d ** 2).mean())


def test_ssim_gp_direct_with_clamp():
    d_real, d_fake = torch.randn(6), torch.randn(6)
    dq = torch.tensor([0.5, 1e-5, 0.0, 1.2, 2e-3, 0.9])
    expected = (((d_real - d_fake).abs() / dq.clamp_min(1e-3) - 1) ** 2).mean()
    assert torch.allclose(ssim_gp(d_real, d_fake, dq), expected, rtol=1e-6)
    expected_01 = (((d_real - d_fake).abs() / dq.clamp_min(0.1) - 1) ** 2).mean()
    assert torch.allclose(ssim_gp(d_real, d_fake, dq, dq_min=0.1), expected_01, rtol=1e-6)


def test_ssim_gradient_penalty_module_uses_dq():
    torch.manual_seed(1)
    real, fake = torch.rand(3, 3, 16, 16) * 2 - 1, torch.rand(3, 3, 16, 16) * 2 - 1
    d_real, d_fake = torch.randn(3), torch.randn(3)
    for variant in ("paper", "authors"):
        kwargs = dict(window_size=7) if variant == "paper" else {}
        mod = SSIMGradientPenalty(variant=variant, **kwargs)
        dq = dq_distance(real, fake, variant=variant, **kwargs)
        assert torch.allclose(mod.distance(real, fake), dq)
        assert torch.allclose(mod(d_real, d_fake, real, fake), ssim_gp(d_real, d_fake, dq), rtol=1e-6)


def test_banach_gp_s0_p2_is_wgan_gp():
    g = torch.randn(5, 3, 8, 8)
    norms = g.flatten(1).norm(dim=1)
    assert torch.allclose(banach_gp(g, 1.0, s=0.0, p=2.0), ((norms - 1) ** 2).mean(), rtol=1e-6)
    assert torch.allclose(banach_gp(g, 1.0, s=0.0, p=2.0), wgan_gp(g), rtol=1e-6)
    assert torch.allclose(banach_gp(g, 2.5, s=0.0, p=2.0), ((norms / 2.5 - 1) ** 2).mean(), rtol=1e-6)


def test_banach_gp_sobolev_direct():
    g = torch.randn(4, 3, 8, 8, dtype=F64)
    s, p, gamma = -1.5, 4.0, 0.7
    dual = torch.linalg.vector_norm(sobolev_filter(g, -s), ord=4 / 3, dim=(1, 2, 3))
    expected = ((dual / gamma - 1) ** 2).mean()
    assert abs(float(banach_gp(g.float(), gamma, s, p)) - float(expected)) < 1e-5 * float(expected)


def test_banach_scales():
    real = torch.randn(6, 3, 8, 8)
    lam, gamma = banach_scales(real, s=0.0, p=2.0)
    mean_l2 = real.flatten(1).norm(dim=1).mean()
    assert torch.allclose(lam, mean_l2, rtol=1e-6) and torch.allclose(gamma, mean_l2, rtol=1e-6)
    assert not lam.requires_grad
    lam, gamma = banach_scales(real, s=1.0, p=3.0, gamma_filter_sign=-1)
    assert torch.allclose(lam, torch.linalg.vector_norm(sobolev_filter(real, 1.0), 3, dim=(1, 2, 3)).mean(), rtol=1e-5)
    assert torch.allclose(gamma, torch.linalg.vector_norm(sobolev_filter(real, -1.0), 1.5, dim=(1, 2, 3)).mean(),
                          rtol=1e-5)
    _, gamma_code = banach_scales(real, s=1.0, p=3.0, gamma_filter_sign=1)
    assert torch.allclose(gamma_code, torch.linalg.vector_norm(sobolev_filter(real, 1.0), 1.5, dim=(1, 2, 3)).mean(),
                          rtol=1e-5)


def test_sobolev_module_scales_cached_and_gamma():
    critic = tiny_critic()
    batch = make_batch(critic)
    mod = SobolevGradientPenalty(s=0.0, p=2.0)
    lam, gamma = mod.scales(batch)
    assert mod.scales(batch)[1] is gamma
    assert torch.allclose(mod.adversarial_scale(batch), gamma)
    assert torch.allclose(mod.adversarial_scale(None), gamma)   # the last one seen, for the G step
    assert torch.allclose(mod.auto_weight(batch), lam)
    assert torch.allclose(mod.penalty(batch), banach_gp(batch.interpolate_gradient(), gamma, 0.0, 2.0))
    fixed = SobolevGradientPenalty(gamma=3.0, lambda_=5.0)
    lam, gamma = fixed.scales(make_batch(critic))
    assert float(gamma) == 3.0 and float(lam) == 5.0


# ----------------------------------------------------------------------------- CriticBatch
def test_critic_batch_caching_and_graph():
    critic = tiny_critic()
    batch = make_batch(critic)
    g1 = batch.interpolate_gradient()
    g2 = batch.interpolate_gradient()
    assert g1 is g2
    assert g1.requires_grad            # create_graph=True: double backprop possible
    assert g1.shape == batch.real.shape and g1.dtype == torch.float32
    # the gradient depends on the critic's weights
    (dw,) = torch.autograd.grad(wgan_gp(g1), critic[0].weight)
    assert float(dw.abs().sum()) > 0
    r1 = batch.real_gradient()
    assert r1 is batch.real_gradient()
    assert not r1.requires_grad
    # it is the gradient of D at the real images
    x = batch.real.detach().requires_grad_(True)
    (ref,) = torch.autograd.grad(critic(x).sum(), x)
    assert torch.allclose(r1, ref, atol=1e-6)
    # and the interpolates lie on the segments real -> fake
    x_hat = batch.interpolates()
    eps = ((x_hat - batch.real) / (batch.fake - batch.real)).detach().flatten(1)
    assert torch.allclose(eps, eps[:, :1].expand_as(eps), atol=1e-4)
    assert bool(((eps >= 0) & (eps <= 1)).all())


def test_critic_batch_bad_logits():
    critic = tiny_critic()
    real = torch.rand(4, 3, 8, 8)
    with pytest.raises(ValueError, match=r"d_real/d_fake: expected 4 logits"):
        CriticBatch(critic, real, real, torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"inputs: expected a tensor with requires_grad=True"):
        input_gradient(torch.zeros(4), torch.zeros(4))


def test_interpolate_reproducible():
    real, fake = torch.zeros(3, 2, 4, 4), torch.ones(3, 2, 4, 4)
    a = interpolate(real, fake, torch.Generator().manual_seed(3))
    b = interpolate(real, fake, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not a.requires_grad


# ----------------------------------------------------------------------------- gradients
# Every penalty computes in float32 on purpose (float32_math); double-precision gradcheck therefore
# cannot apply. Instead: loose central differences, and comparison with the autograd gradient of a
# float64 re-implementation (itself exact: the functional pieces are gradchecked in tests/functional).
def test_wgan_gp_gradient():
    g = torch.randn(3, 2, 6, 6, dtype=F64)
    directional_fd_check(wgan_gp, g, h=1e-3, rtol=1e-2)
    x = g.clone().requires_grad_(True)
    (ad,) = torch.autograd.grad(wgan_gp(x), x)
    norms = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    expected = 2 * (norms - 1) / norms * g / g.shape[0]
    assert torch.allclose(ad, expected, rtol=1e-4, atol=1e-6)


def test_ssim_gp_gradient():
    d_real, d_fake = torch.randn(5, dtype=F64), torch.randn(5, dtype=F64)
    dq = torch.rand(5, dtype=F64) + 0.2
    directional_fd_check(lambda t: ssim_gp(t, d_fake, dq), d_real, h=1e-3, rtol=1e-2)
    directional_fd_check(lambda t: ssim_gp(d_real, t, dq), d_fake, h=1e-3, rtol=1e-2)
    a, b = d_real.clone().requires_grad_(True), d_fake.clone().requires_grad_(True)
    ga, gb = torch.autograd.grad(ssim_gp(a, b, dq), (a, b))
    gap = d_real - d_fake
    expected = 2 * (gap.abs() / dq - 1) / dq * torch.sign(gap) / 5
    assert torch.allclose(ga, expected, rtol=1e-4, atol=1e-6)
    assert torch.allclose(gb, -expected, rtol=1e-4, atol=1e-6)
    # dQ is a constant weight: no gradient flows to it
    dq_leaf = dq.clone().requires_grad_(True)
    ssim_gp(a, b, dq_leaf).backward()
    assert dq_leaf.grad is None


@pytest.mark.parametrize("s, p", [(0.0, 2.0), (-1.5, 2.0), (0.0, 10.0), (1.0, 3.0)])
def test_banach_gp_gradient(s, p):
    g = torch.randn(3, 2, 8, 8, dtype=F64)
    gamma = 0.8
    directional_fd_check(lambda t: banach_gp(t, gamma, s, p), g, h=1e-3, rtol=1e-2)
    x = g.clone().requires_grad_(True)
    (ad,) = torch.autograd.grad(banach_gp(x, gamma, s, p), x)
    y = g.clone().requires_grad_(True)
    q = p / (p - 1)
    ref = ((torch.linalg.vector_norm(sobolev_filter(y, -s), ord=q, dim=(1, 2, 3)) / gamma - 1) ** 2).mean()
    (expected,) = torch.autograd.grad(ref, y)
    assert torch.allclose(ad, expected, rtol=1e-3, atol=1e-6)


def _niqe_gp_reference_f64(grad, mu, cov):
    """The paper variant of NIQE-GP, re-assembled from the (gradchecked) functional pieces in float64."""
    maps = to_luma(grad)
    maps = maps / maps.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    feats = niqe_features(maps, patch_size=16, mscn_c=0.02).reshape(-1, 36)
    mu_t, cov_t = mvg_fit(feats)
    return niqe_distance(mu, cov, mu_t, cov_t, inverse="cholesky", jitter=1e-6)


def test_niqe_gp_gradient():
    mu, cov = random_pristine(0)
    g = torch.randn(2, 3, 16, 16, dtype=F64, generator=torch.Generator().manual_seed(4))
    x = g.clone().requires_grad_(True)
    value = niqe_gp(x, mu, cov)
    assert value.dtype == torch.float32
    (ad,) = torch.autograd.grad(value, x)
    y = g.clone().requires_grad_(True)
    ref = _niqe_gp_reference_f64(y, mu, cov)
    assert abs(float(value.detach()) - float(ref.detach())) < 1e-4 * float(ref.detach())
    (expected,) = torch.autograd.grad(ref, y)
    assert bool(torch.isfinite(ad).all()) and float(expected.abs().max()) > 0
    # float32 internals: compare the gradients as vectors
    rel = float((ad - expected).norm() / expected.norm())
    assert rel < 1e-3, rel
    # and a coarse finite-difference check of the float32 path along the gradient direction
    v = expected / expected.norm()
    h = 1e-3
    with torch.no_grad():
        fd = (niqe_gp(g + h * v, mu, cov).double() - niqe_gp(g - h * v, mu, cov).double()) / (2 * h)
    assert abs(float(fd) - float((ad * v).sum())) < 0.05 * abs(float(fd)), (float(fd), float((ad * v).sum()))


def test_niqe_gp_matches_module_forward():
    mu, cov = random_pristine(1)
    g = torch.randn(3, 3, 16, 16)
    mod = NIQEGradientPenalty(min_samples=40)
    mod.pristine.mu.copy_(mu)
    mod.pristine.cov.copy_(cov)
    mod.pristine.seen.fill_(1000)
    assert torch.allclose(mod(g), niqe_gp(g, mu, cov), rtol=1e-6)
    assert torch.allclose(mod.features(g), gradient_map_features(g))


def test_gradient_maps():
    g = torch.randn(2, 3, 8, 8)
    luma = gradient_maps(g, "luma", normalize=False)
    w = torch.tensor([0.2989, 0.5870, 0.1140]).view(1, 3, 1, 1)
    assert torch.allclose(luma, (g * w).sum(1, keepdim=True))
    mag = gradient_maps(g, "magnitude", normalize=False)
    assert torch.allclose(mag, g.norm(dim=1, keepdim=True))
    normed = gradient_maps(g * 1e-3, "luma", normalize=True)
    assert torch.allclose(normed.pow(2).mean(dim=(1, 2, 3)), torch.ones(2), rtol=1e-4)
    assert torch.allclose(normed, gradient_maps(g, "luma", normalize=True), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- NaN/Inf robustness
def _scenario_maps(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(9)
    if name == "zero":
        return torch.zeros(4, 3, 16, 16)
    if name == "constant":
        return torch.full((4, 3, 16, 16), 0.3)
    if name == "batch1":
        return torch.randn(1, 3, 16, 16, generator=g) * 0.02
    if name == "large":
        return torch.randn(4, 3, 16, 16, generator=g) * 1e6
    if name == "tiny":
        return torch.randn(4, 3, 16, 16, generator=g) * 1e-7
    if name == "sparse":  # one non-zero pixel in the batch (dead ReLU critic)
        x = torch.zeros(4, 3, 16, 16)
        x[0, :, 5, 5] = 0.01
        return x
    if name == "float16":
        return (torch.randn(4, 3, 16, 16, generator=g) * 0.02).half()
    if name == "bfloat16":
        return (torch.randn(4, 3, 16, 16, generator=g) * 0.02).bfloat16()
    if name == "autocast":
        return torch.randn(4, 3, 16, 16, generator=g) * 0.02
    raise AssertionError(name)


SCENARIOS = ["zero", "constant", "batch1", "large", "tiny", "sparse", "float16", "bfloat16", "autocast"]


@pytest.fixture(scope="module")
def authors_pristine_file(tmp_path_factory):
    mu, cov = random_pristine(3)
    path = tmp_path_factory.mktemp("pristine") / "model_grad.npz"
    np.savez(path, mu=mu.numpy(), cov=cov.numpy())
    return str(path)


def _grad_penalties(authors_file):
    mu, cov = random_pristine(2)
    authors = NIQEGradientPenalty(variant="authors", pristine=authors_file)
    return {
        "wgan_gp": lambda g: wgan_gp(g),
        "niqe_gp_paper": lambda g: niqe_gp(g, mu, cov),
        "niqe_gp_authors": lambda g: authors(g),
        "banach_sobolev": lambda g: banach_gp(g, 0.5, s=-1.5, p=2.0),
        "banach_l10": lambda g: banach_gp(g, 0.5, s=0.0, p=10.0),
    }


def _run(fn, leaf, scenario):
    if scenario == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fn(leaf)
    return fn(leaf)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("penalty", ["wgan_gp", "niqe_gp_paper", "niqe_gp_authors", "banach_sobolev",
                                     "banach_l10"])
def test_gradient_penalties_finite(penalty, scenario, authors_pristine_file):
    fn = _grad_penalties(authors_pristine_file)[penalty]
    leaf = _scenario_maps(scenario).requires_grad_(True)
    value = _run(fn, leaf, scenario)
    assert value.dim() == 0 and value.dtype == torch.float32
    assert bool(torch.isfinite(value)), float(value.detach())
    value.backward()
    assert leaf.grad is not None and leaf.grad.dtype == leaf.dtype
    assert bool(torch.isfinite(leaf.grad).all())


def _ssim_scenario(name: str):
    g = torch.Generator().manual_seed(10)
    n = 1 if name == "batch1" else 4
    real = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    fake = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    d_real, d_fake = torch.randn(n, generator=g), torch.randn(n, generator=g)
    if name == "zero":        # identical logits: |D(x) - D(y)| = 0, the kink of abs
        d_fake = d_real.clone()
    elif name == "constant":  # constant, identical images: dQ = 0 -> clamped
        real = torch.full((n, 3, 16, 16), 0.25)
        fake = real.clone()
    elif name == "large":
        real, fake, d_real, d_fake = real * 1e6, fake * 1e6, d_real * 1e6, d_fake * 1e6
    elif name == "tiny":
        real, fake, d_real, d_fake = real * 1e-7, fake * 1e-7, d_real * 1e-7, d_fake * 1e-7
    elif name in ("float16", "bfloat16"):
        dt = torch.float16 if name == "float16" else torch.bfloat16
        real, fake, d_real, d_fake = real.to(dt), fake.to(dt), d_real.to(dt), d_fake.to(dt)
    return real, fake, d_real, d_fake


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("variant", ["paper", "authors"])
def test_ssim_gp_finite(variant, scenario):
    mod = SSIMGradientPenalty(variant=variant, window_size=7 if variant == "paper" else None)
    real, fake, d_real, d_fake = _ssim_scenario(scenario)
    d_real.requires_grad_(True)
    d_fake.requires_grad_(True)

    def fn():
        dq = mod.distance(real, fake)
        assert bool(torch.isfinite(dq).all()) and bool((dq >= 0).all())
        return ssim_gp(d_real, d_fake, dq, mod.dq_min)

    if scenario == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = fn()
    else:
        value = fn()
    assert bool(torch.isfinite(value))
    value.backward()
    assert bool(torch.isfinite(d_real.grad).all()) and bool(torch.isfinite(d_fake.grad).all())


def test_full_step_under_autocast_is_finite(authors_pristine_file):
    """All penalties through a CriticBatch whose critic runs in bfloat16 autocast, backward to the weights."""
    critic = tiny_critic(3)
    g = torch.Generator().manual_seed(2)
    real = torch.rand(8, 3, 16, 16, generator=g) * 2 - 1
    fake = torch.rand(8, 3, 16, 16, generator=g) * 2 - 1
    penalties = [WGANGradientPenalty(), DriftPenalty(), SSIMGradientPenalty(window_size=7),
                 SSIMGradientPenalty(variant="authors"), SobolevGradientPenalty(s=-1.5, p=2.0),
                 SobolevGradientPenalty(s=0.0, p=10.0), NIQEGradientPenalty(min_samples=40, pristine_interval=1),
                 NIQEGradientPenalty(variant="authors", pristine=authors_pristine_file)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        batch = CriticBatch(critic, real, fake, critic(real), critic(fake))
        for _ in range(5):  # fill the online pristine model (8 vectors per refresh)
            penalties[6].penalty(batch)
        total = sum(p.penalty(batch) for p in penalties)
    assert bool(torch.isfinite(total))
    assert float(penalties[6].penalty(batch).detach()) > 0
    total.backward()
    for prm in critic.parameters():
        assert prm.grad is not None and bool(torch.isfinite(prm.grad).all())


# ----------------------------------------------------------------------------- NIQE-GP online
def test_niqe_gp_online_warmup_and_calls():
    critic = tiny_critic(1)
    mod = NIQEGradientPenalty(min_samples=40, pristine_interval=1)
    assert mod.online
    values, seen = [], []
    for step in range(6):
        batch = make_batch(critic, n=8, size=16, seed=step)
        values.append(float(mod.penalty(batch).detach()))
        seen.append(int(mod.pristine.seen))
        assert int(mod.calls) == step + 1
    # one 16x16 patch per map: 8 vectors per refresh; ready at 40
    assert seen == [8, 16, 24, 32, 40, 48]
    assert values[:4] == [0.0, 0.0, 0.0, 0.0]
    assert values[4] > 0 and values[5] > 0
    # the pristine model is the MVG of the real-gradient features (EMA after the first refresh)
    assert bool(torch.isfinite(mod.pristine.cov).all())
    assert torch.allclose(mod.pristine.cov, mod.pristine.cov.T)


def test_niqe_gp_pristine_interval():
    critic = tiny_critic(2)
    mod = NIQEGradientPenalty(min_samples=40, pristine_interval=3)
    seen = []
    for step in range(7):
        mod.penalty(make_batch(critic, n=8, size=16, seed=step))
        seen.append(int(mod.pristine.seen))
    # refreshes at calls 0, 3 and 6 only
    assert seen == [8, 8, 8, 16, 16, 16, 24]
    assert int(mod.calls) == 7
    assert "calls" in mod.state_dict() and "pristine.mu" in mod.state_dict()


def test_niqe_gp_first_refresh_is_mvg_of_real_gradient_features():
    critic = tiny_critic(4)
    mod = NIQEGradientPenalty(min_samples=40, pristine_interval=1)
    batch = make_batch(critic, n=8, size=16, seed=3)
    mod.penalty(batch)
    feats = gradient_map_features(batch.real_gradient()).double()
    mu, cov = mvg_fit(feats)
    assert torch.allclose(mod.pristine.mu, mu, atol=1e-10)
    assert torch.allclose(mod.pristine.cov, cov, atol=1e-10)


def test_niqe_gp_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"pristine: the authors' variant uses a fixed pristine file"):
        NIQEGradientPenalty(variant="authors")
    with pytest.raises(ValueError, match=r"pristine_interval"):
        NIQEGradientPenalty(pristine_interval=0)
    with pytest.raises(ValueError, match=r"patch_size"):
        NIQEGradientPenalty(patch_size=9)
    with pytest.raises(ValueError, match=r"variant"):
        NIQEGradientPenalty(variant="other")
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        NIQEGradientPenalty(pristine=str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match=r"grad: expected a 4-D tensor"):
        NIQEGradientPenalty(min_samples=40)(torch.zeros(3, 16, 16))


def test_penalty_bad_arguments():
    with pytest.raises(ValueError, match=r"target"):
        wgan_gp(torch.zeros(2, 3, 4, 4), target=0.0)
    with pytest.raises(ValueError, match=r"gamma: expected a number > 0"):
        banach_gp(torch.zeros(2, 3, 4, 4), 0.0, 0.0, 2.0)
    with pytest.raises(ValueError, match=r"dq: expected 3 distances"):
        ssim_gp(torch.zeros(3), torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match=r"dq_min"):
        ssim_gp(torch.zeros(3), torch.zeros(3), torch.ones(3), dq_min=0.0)
    with pytest.raises(ValueError, match=r"variant"):
        SobolevGradientPenalty(variant="x")
    with pytest.raises(ValueError, match=r"^p: "):
        SobolevGradientPenalty(p=0.5)
    with pytest.raises(ValueError, match=r"pooling"):
        SSIMGradientPenalty(pooling="median")
