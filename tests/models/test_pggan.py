import math
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from qagan_plugin.models import pggan

MODEL = types.SimpleNamespace(pg_fmap_base=256, pg_fmap_max=32, pg_mbstd_group_size=4)
COMMON = dict(apply_attn=False, num_classes=1, mixed_precision=False, MODULES=None, MODEL=MODEL)


def build(img_size=32):
    torch.manual_seed(0)
    G = pggan.Generator(z_dim=16, g_shared_dim="N/A", img_size=img_size, g_conv_dim="N/A", attn_g_loc=["N/A"],
                        g_cond_mtd="W/O", g_init="N02", g_depth="N/A", **COMMON)
    D = pggan.Discriminator(img_size=img_size, d_conv_dim="N/A", apply_d_sn=False, attn_d_loc=["N/A"],
                            d_cond_mtd="W/O", aux_cls_type="W/O", d_embed_dim="N/A", normalize_d_embed=False,
                            d_init="N02", d_depth="N/A", **COMMON)
    return G, D


LODS = [3.0, 2.6, 2.0, 1.3, 1.0, 0.5, 0.0]


@pytest.mark.parametrize("lod", LODS)
def test_shapes_and_values_at_every_level_and_alpha(lod):
    G, D = build(32)
    G.set_lod(lod)
    D.set_lod(lod)
    x = G(torch.randn(8, 16))
    assert x.shape == (8, 3, 32, 32) and torch.isfinite(x).all()
    assert 0.05 < float(x.detach().std()) < 10  # equalized LR keeps activations at unit scale
    out = D(x, None)
    assert set(out) == set(pggan.OUTPUT_KEYS) and out["adv_output"].shape == (8,)
    # the full-resolution output is constant on (32 / current_resolution)-blocks
    f = 32 // G.current_resolution
    assert torch.equal(x, F.interpolate(x[..., ::f, ::f], scale_factor=f, mode="nearest"))


def test_level_and_alpha_from_lod():
    assert pggan.lod_to_level(3.0, 3) == (0, 1.0)
    assert pggan.lod_to_level(2.25, 3) == (1, 0.75)
    assert pggan.lod_to_level(0.0, 3) == (3, 1.0)
    with pytest.raises(ValueError, match=r"lod: expected a number in \[0, 3\]"):
        pggan.lod_to_level(3.5, 3)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_alpha_one_equals_the_plain_network(level):
    G, D = build(32)
    z = torch.randn(4, 16)
    G.set_lod(3 - level)
    D.set_lod(3 - level)
    h, _ = G.features(z, level)
    plain = G.to_rgb[level](h)
    f = 32 // plain.shape[-1]
    assert torch.allclose(G(z), F.interpolate(plain, scale_factor=f, mode="nearest"))
    # D: from_rgb at the level, its blocks down to 4x4, the 4x4 head: no coarse branch involved
    x = torch.randn(4, 3, 32, 32)
    xl = F.avg_pool2d(x, f) if f > 1 else x
    h = pggan.lrelu(D.from_rgb[level](xl))
    for i in range(level, 0, -1):
        h = D._block(i, h)
    h = pggan.lrelu(D.conv4(pggan.minibatch_stddev(h, 4)))
    expected = D.linear(pggan.lrelu(D.conv4x4(h)).flatten(1)).reshape(-1)
    assert torch.allclose(D(x, None)["adv_output"], expected, atol=1e-6)


def test_equalized_learning_rate_scaling():
    torch.manual_seed(0)
    conv = pggan.EqualizedConv2d(64, 32, 3, padding=1)
    assert abs(float(conv.weight.std()) - 1.0) < 0.05 and float(conv.bias.abs().max()) == 0.0
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(64 * 9))
    x = torch.randn(2, 64, 8, 8)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * math.sqrt(2 / (64 * 9)), conv.bias, padding=1))
    # unit-variance input keeps ~unit second moment through lrelu-gain layers
    y = conv(torch.randn(64, 64, 8, 8))
    assert 0.5 < float(y.pow(2).mean()) < 4
    G, D = build(32)
    assert G.dense.scale == pytest.approx((math.sqrt(2) / 4) / math.sqrt(16))
    assert G.to_rgb[0].scale == pytest.approx(1.0 / math.sqrt(G.to_rgb[0].weight.shape[1]))
    assert D.linear.scale == pytest.approx(1.0 / math.sqrt(D.linear.weight.shape[1]))


def test_feature_map_schedule_of_the_paper():
    assert [pggan.n_features(r) for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)] == \
        [512, 512, 512, 512, 256, 128, 64, 32, 16]


def test_pixel_norm():
    x = torch.randn(3, 8, 4, 4) * 5
    y = pggan.pixel_norm(x)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 4, 4), atol=1e-5)


@pytest.mark.parametrize("n, group", [(8, 4), (6, 4), (5, 4), (3, 8)])
def test_minibatch_stddev_against_direct_computation(n, group):
    x = torch.randn(n, 5, 4, 4)
    out = pggan.minibatch_stddev(x, group)
    assert out.shape == (n, 6, 4, 4) and torch.equal(out[:, :5], x)
    g = min(group, n)
    while n % g:
        g -= 1
    m = n // g
    for i in range(n):
        members = [j for j in range(n) if j % m == i % m]  # official grouping: stride n/g
        std = (x[members].var(dim=0, unbiased=False) + 1e-8).sqrt()
        assert torch.allclose(out[i, 5], torch.full((4, 4), float(std.mean())), atol=1e-5)


def test_fade_is_continuous_across_phase_boundaries():
    G, D = build(32)
    z = torch.randn(4, 16)
    x = torch.randn(4, 3, 32, 32)
    for boundary in (3.0, 2.0, 1.0):  # stable level <-> start of the next fade
        outs_g, outs_d = [], []
        for lod in (min(boundary + 1e-6, 3.0), boundary, boundary - 1e-6):
            G.set_lod(lod)
            D.set_lod(lod)
            outs_g.append(G(z))
            outs_d.append(D(x, None)["adv_output"])
        assert (outs_g[0] - outs_g[1]).abs().max() < 1e-4 and (outs_g[2] - outs_g[1]).abs().max() < 1e-4
        assert (outs_d[0] - outs_d[1]).abs().max() < 1e-4 and (outs_d[2] - outs_d[1]).abs().max() < 1e-4
    # and inside a fade, outputs move gradually with alpha
    G.set_lod(1.5)
    mid = G(z)
    G.set_lod(1.49)
    assert (G(z) - mid).abs().max() < 0.1


def test_schedule_at_given_kimg():
    s = lambda k: pggan.schedule_lod(k, 6, 800, 800)
    assert s(0) == 6 and s(799) == 6 and s(800) == 6
    assert s(1200) == pytest.approx(5.5) and s(1600) == 5 and s(2400) == 5
    assert s(2800) == pytest.approx(4.5) and s(1e6) == 0
    assert pggan.schedule_lod(0.3, 2, 0.1, 0.1) == pytest.approx(1.0)


class _DDPLike(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module


def test_step_hook_sets_lod_everywhere_and_resets_adam_at_level_changes():
    G, D = build(32)
    G_ema, _ = build(32)
    opt_g = torch.optim.Adam(G.parameters())
    opt_d = torch.optim.Adam(D.parameters())
    cfg = types.SimpleNamespace(
        MODEL=types.SimpleNamespace(**vars(MODEL), pg_train_kimg=0.1, pg_trans_kimg=0.1, pg_reset_optimizer=True),
        OPTIMIZATION=types.SimpleNamespace(batch_size=10, acml_steps=1, d_updates_per_step=1, world_size=1,
                                           g_optimizer=opt_g, d_optimizer=opt_d))
    worker = types.SimpleNamespace(cfgs=cfg, Gen=_DDPLike(G), Gen_ema=G_ema, Dis=_DDPLike(D),
                                   OPTIMIZATION=cfg.OPTIMIZATION)
    pggan.on_step_begin(worker, 5)            # 50 images: stable 4x4
    assert G.lod == G_ema.lod == D.lod == 3.0
    G(torch.randn(2, 16)).sum().backward()
    opt_g.step()
    assert opt_g.state
    pggan.on_step_begin(worker, 9)            # 90 images: still stable
    assert opt_g.state
    pggan.on_step_begin(worker, 15)           # 150 images: fading into 8x8 -> reset
    assert D.lod == pytest.approx(2.5) and D.level == 1 and not opt_g.state
    assert G.find_unused_parameters and D.find_unused_parameters


def test_bad_configuration():
    with pytest.raises(ValueError, match="power of 2"):
        build(48)
    with pytest.raises(ValueError, match="unconditional"):
        pggan.Generator(z_dim=16, g_shared_dim="N/A", img_size=32, g_conv_dim="N/A", attn_g_loc=None,
                        g_cond_mtd="cBN", g_init=None, g_depth=None, **COMMON)
