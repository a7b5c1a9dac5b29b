import pytest
import torch
import torch.nn as nn

from qagan_plugin import RecipeConfig, build_recipe
from qagan_plugin.regularizers import wgan_gp


def _critic():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 8 * 8, 1))


def _batch(n=8, size=16):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1, torch.rand(n, 3, size, size, generator=g) * 2 - 1


@pytest.mark.parametrize("name, terms", [
    ("wgan_gp", {"gp"}),
    ("qagan_ssim", {"gp", "ssim_gp", "drift"}),
    ("qagan_niqe", {"gp", "niqe_gp", "drift"}),
    ("bwgan_sobolev", {"banach_gp", "drift"}),
    ("bwgan_lp", {"banach_gp", "drift"}),
])
def test_each_recipe_trains_a_step(name, terms):
    D = _critic()
    real, fake = _batch()
    recipe = build_recipe(name, niqe={"min_samples": 40})
    assert set(recipe.terms) == terms
    f = lambda x: D(x).flatten()
    loss, logs = recipe.discriminator_loss(f, real, fake, f(real), f(fake))
    assert torch.isfinite(loss) and set(logs) >= terms | {"wasserstein"}
    loss.backward()
    grads = [p.grad for p in D.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    g_loss, _ = recipe.generator_loss(f(fake))
    assert torch.isfinite(g_loss)


def test_wgan_gp_recipe_equals_hand_computation():
    D = _critic()
    real, fake = _batch()
    f = lambda x: D(x).flatten()
    gen = torch.Generator().manual_seed(5)
    loss, logs = build_recipe("wgan_gp").discriminator_loss(f, real, fake, f(real), f(fake), generator=gen)
    eps = torch.rand(8, 1, 1, 1, generator=torch.Generator().manual_seed(5))
    x_hat = (real + eps * (fake - real)).requires_grad_(True)
    (g,) = torch.autograd.grad(f(x_hat).sum(), x_hat)
    expected = f(fake).mean() - f(real).mean() + 10 * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(logs["gp"], wgan_gp(g), atol=1e-6)


def test_weights_and_defaults_follow_the_authors():
    r = build_recipe("qagan_ssim")
    assert r.weights == {"gp": 1.0, "ssim_gp": 0.1, "drift": 1e-5}
    assert build_recipe("wgan_gp").weights == {"gp": 10.0}
    b = build_recipe("bwgan_sobolev")
    assert b.weights["banach_gp"] is None and b.terms["banach_gp"].s == -1.5
    assert build_recipe("bwgan_lp").terms["banach_gp"].p == 10.0
    assert build_recipe("qagan_ssim", qa_lambda=0.0).weights == {"gp": 1.0, "drift": 1e-5}


def test_banach_divides_wasserstein_by_gamma_and_uses_lambda_heuristic():
    from qagan_plugin.regularizers import banach_scales

    D = _critic()
    real, fake = _batch()
    f = lambda x: D(x).flatten()
    recipe = build_recipe("bwgan_lp", drift_lambda=0.0)
    loss, logs = recipe.discriminator_loss(f, real, fake, f(real), f(fake))
    lam, gamma = banach_scales(real, 0.0, 10.0)
    expected = -logs["wasserstein"] / gamma + lam * logs["banach_gp"]
    assert torch.allclose(loss.detach(), expected, rtol=1e-5)
    g_loss, _ = recipe.generator_loss(f(fake))
    assert torch.allclose(g_loss.detach(), -f(fake).mean().detach() / gamma, rtol=1e-5)


def test_lazy_interval_applies_gain():
    D = _critic()
    real, fake = _batch()
    f = lambda x: D(x).flatten()
    recipe = build_recipe("qagan_ssim", qa_interval=3, gp_lambda=0.0, drift_lambda=0.0)
    seen = []
    for _ in range(4):
        loss, logs = recipe.discriminator_loss(f, real, fake, f(real), f(fake))
        seen.append("ssim_gp" in logs)
        if "ssim_gp" in logs:
            assert torch.allclose(loss.detach(), -logs["wasserstein"] + 0.1 * 3 * logs["ssim_gp"], rtol=1e-5)
    assert seen == [True, False, False, True]


def test_state_dict_round_trip_restores_pristine_and_counters():
    D = _critic()
    real, fake = _batch(n=16)
    f = lambda x: D(x).flatten()
    a = build_recipe("qagan_niqe", niqe={"min_samples": 40, "pristine_interval": 1})
    for _ in range(3):
        a.discriminator_loss(f, real, fake, f(real), f(fake))
    b = build_recipe("qagan_niqe", niqe={"min_samples": 40, "pristine_interval": 1})
    b.load_state_dict(a.state_dict())
    pa, pb = a.terms["niqe_gp"].pristine, b.terms["niqe_gp"].pristine
    assert torch.equal(pa.mu, pb.mu) and torch.equal(pa.cov, pb.cov) and int(b.d_steps) == 3
    assert pb.ready and int(b.terms["niqe_gp"].calls) == 3


def test_build_recipe_rejects_bad_input():
    with pytest.raises(KeyError, match="unknown recipe 'nope'"):
        build_recipe("nope")
    with pytest.raises(TypeError, match="config: expected a recipe name"):
        build_recipe(3)
    with pytest.raises(ValueError, match="unknown key 'lambda1'"):
        build_recipe("qagan_ssim", lambda1=1.0)
    cfg = RecipeConfig(recipe="qagan_ssim")
    assert build_recipe(cfg, qa_lambda=0.5).weights["ssim_gp"] == 0.5


def test_bad_logits_shape_is_reported():
    real, fake = _batch()
    with pytest.raises(ValueError, match="d_real/d_fake: expected 8 logits"):
        build_recipe("wgan_gp").discriminator_loss(lambda x: x.mean((1, 2, 3)), real, fake,
                                                   torch.zeros(4), torch.zeros(8))
