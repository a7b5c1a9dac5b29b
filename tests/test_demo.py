import json
import os

import pytest
import torch

from qagan_plugin.cli import main
from qagan_plugin.demo import DemoConfig, train

TINY = dict(width=16, batch=8, n_critic=2, train_patches=256, eval_samples=64, sample_every=2, checkpoint_every=1)


def _ckpt(out):
    return torch.load(os.path.join(out, "checkpoint.pt"), weights_only=True)


def test_demo_writes_outputs_and_resumes_exactly(tmp_path):
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    cfg = DemoConfig(recipe="qagan_ssim", steps=4, **TINY)
    metrics = train(cfg, full, progress=False)
    for name in ("samples_00002.png", "samples_00004.png", "losses.png", "metrics.json", "report.md",
                 "real_patches.png", "checkpoint.pt"):
        assert os.path.isfile(os.path.join(full, name)), name
    on_disk = json.load(open(os.path.join(full, "metrics.json")))
    assert on_disk["swd_mean"] == pytest.approx(metrics["swd_mean"])
    for key in ("swd_mean", "swd_mean_real_reference", "niqe_samples", "niqe_real", "dq_diversity_samples"):
        assert on_disk[key] == on_disk[key] and on_disk[key] >= 0  # finite, not NaN
    assert "qagan_ssim" in open(os.path.join(full, "report.md")).read()

    # interrupted after 2 steps, then re-run with the same folder: same weights as uninterrupted
    train(DemoConfig(recipe="qagan_ssim", steps=4, **TINY).__class__(**{**cfg.__dict__, "steps": 2}), part,
          progress=False)
    assert _ckpt(part)["step"] == 2
    # the schedule depends on the total steps, so the 2-step run decays differently; resume a 4-step run
    # from a 4-step run's checkpoint at step 2 instead
    mid = str(tmp_path / "mid")
    cfg_mid = DemoConfig(recipe="qagan_ssim", steps=4, **{**TINY, "checkpoint_every": 2})
    import qagan_plugin.demo as demo

    calls = {"n": 0}
    orig = demo._atomic_save

    def stop_after_first_save(obj, path):
        orig(obj, path)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    demo._atomic_save = stop_after_first_save
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg_mid, mid, progress=False)
    finally:
        demo._atomic_save = orig
    assert _ckpt(mid)["step"] == 2
    train(cfg_mid, mid, progress=False)
    a, b = _ckpt(full), _ckpt(mid)
    for key in a["G"]:
        assert torch.allclose(a["G"][key].float(), b["G"][key].float(), atol=1e-6), key
    assert len(b["history"]) == 4


def test_demo_refuses_other_recipe_in_same_folder(tmp_path):
    out = str(tmp_path / "d")
    train(DemoConfig(recipe="wgan_gp", steps=1, **TINY), out, progress=False)
    with pytest.raises(ValueError, match="was written by recipe 'wgan_gp'"):
        train(DemoConfig(recipe="qagan_niqe", steps=1, **TINY), out, progress=False)


def test_demo_cli_rejects_bad_arguments(capsys, tmp_path):
    assert main(["demo", "--recipe", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    assert main(["demo", "--size", "40", "--out", str(tmp_path / "x")]) == 2
    assert "--size: expected 32, 48 or 64" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")
