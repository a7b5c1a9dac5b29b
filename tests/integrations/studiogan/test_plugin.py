"""The StudioGAN plugin's hooks, called as the patched worker calls them, with real tensors."""
import types

import pytest
import torch
import torch.nn as nn

from qagan_plugin.integrations.studiogan.plugin import (KEY_TABLE, QAGANRegularizer, WassersteinLoss,
                                                        recipe_config_from_loss_section)
from qagan_plugin.models import qagan_resnet
from qagan_plugin.regularizers import banach_scales


class TinyDis(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
                                 nn.Flatten(), nn.Linear(8 * 8 * 8, 1))

    def forward(self, x, label, eval=False, adc_fake=False):
        return {"adv_output": torch.squeeze(self.net(x)), "label": label}


def _cfgs(adv_loss, **loss):
    defaults = QAGANRegularizer.config_defaults
    LOSS = types.SimpleNamespace(adv_loss=adv_loss, apply_gp=False, **{**defaults["LOSS"], **loss})
    OPT = types.SimpleNamespace(**defaults["OPTIMIZATION"])
    return types.SimpleNamespace(LOSS=LOSS, OPTIMIZATION=OPT)


def _worker(cfgs):
    return types.SimpleNamespace(cfgs=cfgs, Dis=TinyDis(), DDP=False, scaler=None)


def _step(reg, worker, n=8):
    g = torch.Generator().manual_seed(3)
    real, fake = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1, torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
    labels = torch.zeros(n, dtype=torch.long)
    real_dict, fake_dict = worker.Dis(real, labels), worker.Dis(fake, labels)
    extra = reg.d_loss(worker, 0, 0, real, real, labels, fake, fake, labels, real_dict, fake_dict)
    return extra, real, fake, real_dict, fake_dict


def test_config_defaults_cover_every_recipe_field_and_are_json():
    import json

    loss = QAGANRegularizer.config_defaults["LOSS"]
    assert set(loss) == set(KEY_TABLE) and all(k.startswith("qagan_") for k in loss)
    json.dumps(QAGANRegularizer.config_defaults)
    assert loss["qagan_lambda"] == "N/A" and loss["qagan_niqe_pristine_interval"] == 16


def test_loss_section_maps_to_recipe_config_and_names_keys_in_errors():
    cfg = recipe_config_from_loss_section(_cfgs("qagan_ssim", qagan_lambda=0.2, qagan_ssim_pooling="mean_sqrt").LOSS)
    assert cfg.recipe == "qagan_ssim" and cfg.qa_lambda == 0.2 and cfg.ssim.pooling == "mean_sqrt"
    with pytest.raises(ValueError, match=r"LOSS\.qagan_niqe_ema_decay: got 2"):
        recipe_config_from_loss_section(_cfgs("qagan_niqe", qagan_niqe_ema_decay=2).LOSS)
    with pytest.raises(ValueError, match=r"LOSS\.qagan_gp_lambda: got -1.*\"N/A\""):
        recipe_config_from_loss_section(_cfgs("qagan_niqe", qagan_gp_lambda=-1).LOSS)


def test_check_configs():
    assert QAGANRegularizer.is_active(_cfgs("qagan_niqe")) and not QAGANRegularizer.is_active(_cfgs("hinge"))
    cfgs = _cfgs("qagan_ssim")
    cfgs.LOSS.apply_gp = True
    with pytest.raises(ValueError, match="apply_gp"):
        QAGANRegularizer.check_configs(cfgs)
    cfgs = _cfgs("qagan_ssim")
    cfgs.OPTIMIZATION.qagan_linear_decay_steps = 0
    with pytest.raises(ValueError, match="qagan_linear_decay_steps: got 0"):
        QAGANRegularizer.check_configs(cfgs)
    QAGANRegularizer.check_configs(_cfgs("hinge", qagan_gp_lambda=-5))  # inactive: not our business


def test_d_loss_adds_exactly_the_recipe_penalties():
    worker = _worker(_cfgs("qagan_ssim"))
    reg = QAGANRegularizer(worker)
    extra, real, fake, rd, fd = _step(reg, worker)
    logs = reg.log_values()
    assert set(logs) == {"qagan/gp", "qagan/ssim_gp", "qagan/drift"}
    expected = 1.0 * logs["qagan/gp"] + 0.1 * logs["qagan/ssim_gp"] + 1e-5 * logs["qagan/drift"]
    assert extra.item() == pytest.approx(expected, rel=1e-5)
    extra.backward()
    assert all(p.grad is not None for p in worker.Dis.parameters())
    assert reg.g_loss(worker, 0, 0, fake, fake, None, fd).item() == 0.0
    adv = WassersteinLoss.d_loss(rd["adv_output"], fd["adv_output"])
    assert adv.item() == pytest.approx((fd["adv_output"].mean() - rd["adv_output"].mean()).item())


def test_banach_rescales_studiogan_wasserstein_by_gamma():
    worker = _worker(_cfgs("bwgan_lp", qagan_drift_lambda=0.0))
    reg = QAGANRegularizer(worker)
    extra, real, fake, rd, fd = _step(reg, worker)
    lam, gamma = banach_scales(real, 0.0, 10.0)
    gap = fd["adv_output"].mean() - rd["adv_output"].mean()
    total = WassersteinLoss.d_loss(rd["adv_output"], fd["adv_output"]) + extra
    assert total.item() == pytest.approx((gap / gamma + lam * reg.log_values()["qagan/banach_gp"]).item(), rel=1e-4)
    g_total = WassersteinLoss.g_loss(fd["adv_output"]) + reg.g_loss(worker, 0, 0, fake, fake, None, fd)
    assert g_total.item() == pytest.approx((-fd["adv_output"].mean() / gamma).item(), rel=1e-4)


def test_state_round_trip_and_recipe_mismatch():
    worker = _worker(_cfgs("qagan_niqe", qagan_niqe_min_samples=40, qagan_niqe_pristine_interval=1))
    reg = QAGANRegularizer(worker)
    for _ in range(6):
        _step(reg, worker)
    state = reg.state_dict()
    other = QAGANRegularizer(worker)
    other.load_state_dict(state)
    assert torch.equal(other.recipe.terms["niqe_gp"].pristine.mu, reg.recipe.terms["niqe_gp"].pristine.mu)
    assert int(other.recipe.d_steps) == 6
    with pytest.raises(ValueError, match="belongs to recipe 'qagan_niqe'"):
        QAGANRegularizer(_worker(_cfgs("qagan_ssim"))).load_state_dict(state)


def test_linear_decay_hook_sets_learning_rates():
    cfgs = _cfgs("wgan_gp")
    cfgs.OPTIMIZATION.qagan_linear_decay_steps = 100
    params = [nn.Parameter(torch.zeros(1))]
    cfgs.OPTIMIZATION.g_optimizer = torch.optim.Adam(params, lr=2e-4)
    cfgs.OPTIMIZATION.d_optimizer = torch.optim.Adam(params, lr=4e-4)
    worker = types.SimpleNamespace(cfgs=cfgs, OPTIMIZATION=cfgs.OPTIMIZATION)
    reg = QAGANRegularizer(worker)
    reg.on_step_begin(worker, 25)
    assert cfgs.OPTIMIZATION.g_optimizer.param_groups[0]["lr"] == pytest.approx(1.5e-4)
    assert cfgs.OPTIMIZATION.d_optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)
    reg.on_step_begin(worker, 200)
    assert cfgs.OPTIMIZATION.g_optimizer.param_groups[0]["lr"] == 0.0


def test_qagan_resnet_backbone_contract():
    MODEL = types.SimpleNamespace()
    common = dict(apply_attn=False, num_classes=1, mixed_precision=False, MODULES=None, MODEL=MODEL)
    G = qagan_resnet.Generator(z_dim=128, g_shared_dim="N/A", img_size=48, g_conv_dim=16, attn_g_loc=["N/A"],
                               g_cond_mtd="W/O", g_init="ortho", g_depth="N/A", **common)
    D = qagan_resnet.Discriminator(img_size=48, d_conv_dim=16, apply_d_sn=False, attn_d_loc=["N/A"],
                                   d_cond_mtd="W/O", aux_cls_type="W/O", d_embed_dim="N/A",
                                   normalize_d_embed=False, d_init="ortho", d_depth="N/A", **common)
    x = G(torch.randn(3, 128), torch.zeros(3, dtype=torch.long))
    assert x.shape == (3, 3, 48, 48) and x.abs().max() <= 1
    out = D(x, torch.zeros(3, dtype=torch.long))
    assert len(out) == 12 and out["adv_output"].shape == (3,)
    with pytest.raises(ValueError, match="supports \\[32, 48, 64\\]"):
        qagan_resnet.Generator(z_dim=128, g_shared_dim="N/A", img_size=128, g_conv_dim=16, attn_g_loc=["N/A"],
                               g_cond_mtd="W/O", g_init="ortho", g_depth="N/A", **common)
    with pytest.raises(ValueError, match="unconditional"):
        qagan_resnet.Discriminator(img_size=32, d_conv_dim=16, apply_d_sn=False, attn_d_loc=["N/A"],
                                   d_cond_mtd="PD", aux_cls_type="W/O", d_embed_dim="N/A",
                                   normalize_d_embed=False, d_init="ortho", d_depth="N/A", **common)


def test_progressive_backbone_gets_penalties_at_the_current_level():
    import torch.nn.functional as F

    from qagan_plugin.models import pggan

    M = types.SimpleNamespace(pg_fmap_base=128, pg_fmap_max=16, pg_mbstd_group_size=4,
                              pg_qagan_niqe_min_resolution=16)
    D = pggan.Discriminator(img_size=32, d_conv_dim="N/A", apply_d_sn=False, attn_d_loc=None, d_cond_mtd="W/O",
                            aux_cls_type="W/O", d_embed_dim=None, normalize_d_embed=False, d_init=None,
                            d_depth=None, apply_attn=False, num_classes=1, mixed_precision=False, MODULES=None,
                            MODEL=M)
    cfgs = _cfgs("qagan_niqe", qagan_niqe_min_samples=40, qagan_niqe_pristine_interval=1)
    cfgs.MODEL = M
    worker = types.SimpleNamespace(cfgs=cfgs, Dis=D, DDP=False, scaler=None)
    reg = QAGANRegularizer(worker)
    g = torch.Generator().manual_seed(0)
    real = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    fake = torch.rand(16, 3, 32, 32, generator=g) * 2 - 1
    for lod, res in ((1.5, 16), (2.0, 8)):
        D.set_lod(lod)
        rd, fd = D(real, None), D(fake, None)
        # the level images seen through up-sampling give exactly D's logits of the full images
        up = F.interpolate(F.avg_pool2d(real, 32 // res), scale_factor=32 // res, mode="nearest")
        assert torch.allclose(D(up, None)["adv_output"], rd["adv_output"], atol=1e-5)
        for _ in range(4):
            extra = reg.d_loss(worker, 0, 0, real, real, None, fake, fake, None, rd, fd)
        assert torch.isfinite(extra) and reg._key == str(res)
        if res == 16:
            assert "qagan/niqe_gp" in reg.log_values() and reg.recipe.terms["niqe_gp"].pristine.ready
        else:
            assert "qagan/niqe_gp" not in reg.log_values()  # off below 16 px
    state = reg.state_dict()
    assert set(state["recipes"]) == {"full", "16", "8"}
    other = QAGANRegularizer(worker)
    other.load_state_dict(state)
    assert torch.equal(other.recipes["16"].terms["niqe_gp"].pristine.cov, reg.recipes["16"].terms["niqe_gp"].pristine.cov)
