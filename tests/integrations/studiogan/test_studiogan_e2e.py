"""End-to-end: our plugin inside a real StudioGAN tree (gated on STUDIOGAN_ROOT).

On a copy of STUDIOGAN_ROOT with the patch series installed: every config loads in StudioGAN's
Configurations; every backbone except StyleGAN3 (100+ s/step on CPU, GPU script only) trains a
few steps on CPU with every recipe on a tiny folder dataset cut from the embedded natural
patches; a run resumes from its checkpoint with the pristine model continuing; a 2-process gloo
DDP run of qagan_niqe completes with identical pristine state on both ranks.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import torch
import yaml

ROOT = os.environ.get("STUDIOGAN_ROOT")
pytestmark = [pytest.mark.studiogan,
              pytest.mark.skipif(not ROOT, reason="set STUDIOGAN_ROOT to a PyTorch-StudioGAN clone at 947b35e")]

RECIPES = ["wgan_gp", "qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp"]
RECIPE_LABELS = {"wgan_gp": "WGAN-GP", "qagan_ssim": "QAGAN-SSIM", "qagan_niqe": "QAGAN-NIQE",
                 "bwgan_sobolev": "BWGAN-Sobolev", "bwgan_lp": "BWGAN-L10"}
# backbone label -> (MODEL overrides for a tiny CPU run, batch, total_steps)
TINY = {
    "DCGAN": ({}, 16, 2),
    "ResNet": ({"g_conv_dim": 8, "d_conv_dim": 8}, 16, 2),
    "BigGAN": ({"g_conv_dim": 8, "d_conv_dim": 8}, 16, 2),
    "BigGAN-Deep": ({"g_conv_dim": 8, "d_conv_dim": 8}, 16, 2),
    "BigGAN-Deep-StudioGAN": ({"g_conv_dim": 8, "d_conv_dim": 8}, 16, 2),
    "StyleGAN2": ({"z_dim": 64, "w_dim": 64}, 8, 4),
    "QAGAN-ResNet": ({"g_conv_dim": 8, "d_conv_dim": 8}, 16, 2),
}
TERMS = {"wgan_gp": ["gp"], "qagan_ssim": ["gp", "ssim_gp", "drift"], "qagan_niqe": ["gp", "niqe_gp", "drift"],
         "bwgan_sobolev": ["banach_gp", "drift", "gamma"], "bwgan_lp": ["banach_gp", "drift", "gamma"]}
TIMINGS = {}
OUR_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "configs", "studiogan")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    from qagan_plugin.cli import main
    from qagan_plugin.data.natural import export_image_folder

    base = tmp_path_factory.mktemp("studiogan")
    dst = base / "tree"
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(".git"))
    assert main(["studiogan", "install", str(dst)]) == 0
    export_image_folder(str(base / "data"), n=64, size=32, seed=0)
    return base


def tiny_config(base, src_cfg, name, model, batch, steps, **loss):
    cfg = yaml.safe_load(open(src_cfg))
    cfg["DATA"] = {"name": "TINY", "img_size": 32, "num_classes": 1}
    cfg["MODEL"].update(model)
    cfg["OPTIMIZATION"].update(batch_size=batch, total_steps=steps)
    if "STYLEGAN" in cfg:  # the minibatch-stddev group must not exceed the tiny batch
        cfg["STYLEGAN"]["d_epilogue_mbstd_group_size"] = min(batch, cfg["STYLEGAN"]["d_epilogue_mbstd_group_size"])
    if cfg["OPTIMIZATION"].get("d_updates_per_step", 1) > 2:
        cfg["OPTIMIZATION"]["d_updates_per_step"] = 2
    # an active NIQE-GP within a few steps: the pristine model refreshes every D step and is
    # ready after 37 vectors (the minimum for a full-rank 36x36 covariance)
    cfg["LOSS"].update(qagan_niqe_min_samples=37, qagan_niqe_pristine_interval=1, **loss)
    path = os.path.join(base, f"{name}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(cfg, fh)
    return path


def run_studiogan(base, cfg, save, extra=(), env_extra=None, timeout=900):
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "2", **(env_extra or {})}
    cmd = [sys.executable, "src/main.py", "-t", "-metrics", "none", "-cfg", cfg, "-data", str(base / "data"),
           "-save", save, "--num_workers", "1", "--print_freq", "1", "--save_freq", "2", "--seed", "0", *extra]
    start = time.time()
    proc = subprocess.run(cmd, cwd=base / "tree", env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "End of training!" in out, out[-4000:]
    return out, time.time() - start


def step_lines(log):
    return [l for l in log.splitlines() if re.search(r"> Step:\s+\d+", l)]


def test_every_config_loads_in_studiogan_configurations(tree):
    ours = sorted(os.path.relpath(p, OUR_CONFIGS) for p in glob.glob(os.path.join(OUR_CONFIGS, "*", "*.yaml")))
    code = ("import sys; sys.path.insert(0, 'src'); from config import Configurations\n"
            "for rel in sys.argv[1:]:\n"
            "    c = Configurations('src/configs/' + rel)\n"
            "    assert c.LOSS.adv_loss in ('wgan_gp', 'qagan_ssim', 'qagan_niqe', 'bwgan_sobolev', 'bwgan_lp',"
            " 'pggan_wgan_gp'), (rel, c.LOSS.adv_loss)\n"
            "print('loaded', len(sys.argv) - 1)\n")
    proc = subprocess.run([sys.executable, "-c", code, *ours], cwd=tree / "tree", capture_output=True, text=True,
                          env={**os.environ, "WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"loaded {len(ours)}" in proc.stdout and len(ours) > 100, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("backbone", list(TINY))
@pytest.mark.parametrize("recipe", RECIPES)
def test_backbone_trains_with_recipe_on_cpu(tree, backbone, recipe):
    model, batch, steps = TINY[backbone]
    src = tree / "tree" / "src" / "configs" / "CIFAR10" / f"{backbone}-{RECIPE_LABELS[recipe]}.yaml"
    cfg = tiny_config(tree, src, f"{backbone}-{recipe}", model, batch, steps)
    log, seconds = run_studiogan(tree, cfg, str(tree / "runs" / f"{backbone}-{recipe}"))
    lines = step_lines(log)
    assert len(lines) == steps + 1  # StudioGAN runs total_steps + 1 iterations
    for term in TERMS[recipe]:
        assert f"qagan/{term}:" in lines[-1], lines[-1]
    if recipe == "qagan_niqe":  # the pristine model is ready by the last step: NIQE-GP is active
        value = float(re.search(r"qagan/niqe_gp: ([0-9.e+-]+)", lines[-1]).group(1))
        assert value > 0
    ckpts = glob.glob(str(tree / "runs" / f"{backbone}-{recipe}" / "checkpoints" / "*" / "model=D-current*"))
    assert ckpts and "qagan" in torch.load(ckpts[0], weights_only=False)["plugin_states"]
    TIMINGS[f"{backbone}/{recipe}"] = round(seconds, 1)
    with open(tree / "timings.json", "w") as fh:
        json.dump(TIMINGS, fh, indent=1)


def _pristine_state(ckpt_dir):
    path = sorted(glob.glob(os.path.join(ckpt_dir, "model=D-current*")))[-1]
    state = torch.load(path, weights_only=False)["plugin_states"]["qagan"]["recipes"]["full"]
    return state


@pytest.mark.slow
def test_resume_continues_the_pristine_model(tree):
    src = tree / "tree" / "src" / "configs" / "CIFAR10" / "ResNet-QAGAN-NIQE.yaml"
    first = tiny_config(tree, src, "resume-a", TINY["ResNet"][0], 16, 2)
    save = str(tree / "runs" / "resume")
    run_studiogan(tree, first, save)
    ckpt_dir = glob.glob(os.path.join(save, "checkpoints", "*"))[0]
    before = _pristine_state(ckpt_dir)
    second = tiny_config(tree, src, "resume-b", TINY["ResNet"][0], 16, 4)
    log, _ = run_studiogan(tree, second, save, extra=["-ckpt", ckpt_dir])
    after = _pristine_state(ckpt_dir)
    assert int(after["d_steps"]) > int(before["d_steps"]) == 4
    assert int(after["terms.niqe_gp.calls"]) == int(after["d_steps"])
    assert float(after["terms.niqe_gp.pristine.seen"]) == float(before["terms.niqe_gp.pristine.seen"]) + \
        16 * (int(after["d_steps"]) - int(before["d_steps"]))
    # the steps after the resume start from the restored counters: the first logged step is 3
    assert re.search(r"> Step:\s+3 ", step_lines(log)[0])


@pytest.mark.slow
def test_ddp_gloo_two_processes_qagan_niqe(tree):
    src = tree / "tree" / "src" / "configs" / "CIFAR10" / "ResNet-QAGAN-NIQE.yaml"
    cfg = tiny_config(tree, src, "ddp", TINY["ResNet"][0], 16, 2)
    save = str(tree / "runs" / "ddp")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log, _ = run_studiogan(tree, cfg, save, extra=["-DDP", "--cpu_processes", "2"],
                           env_extra={"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"})
    state = _pristine_state(glob.glob(os.path.join(save, "checkpoints", "*"))[0])
    # 2 ranks x 8 images per D step, all-reduced: the count is the global batch
    assert float(state["terms.niqe_gp.pristine.seen"]) == 16 * int(state["terms.niqe_gp.calls"])
    assert "qagan/niqe_gp" in log


PGGAN_TINY = {"pg_fmap_base": 128, "pg_fmap_max": 16, "z_dim": 32, "pg_train_kimg": 0.032, "pg_trans_kimg": 0.032}


def _lods(log):
    return [float(v) for v in re.findall(r"qagan/lod: ([0-9.e+-]+)", log)]


@pytest.mark.slow
def test_pggan_grows_through_two_fade_ins_and_resumes_mid_fade(tree):
    from qagan_plugin.models.pggan import schedule_lod

    src = tree / "tree" / "src" / "configs" / "CelebA" / "PGGAN-QAGAN-SSIM.yaml"
    # 8 images per step, phases of 32 images: stable 4x4 (steps 0-3), fade 8x8 (4-7), stable 8x8 (8-11),
    # fade 16x16 (12-15), stable 16x16 ...; the checkpoint at step 14 is in the middle of the 2nd fade
    cfg = tiny_config(tree, src, "pggan-a", PGGAN_TINY, 8, 14)
    cfg_data = yaml.safe_load(open(cfg))
    cfg_data["DATA"]["img_size"] = 64
    yaml.safe_dump(cfg_data, open(cfg, "w"))
    data64 = tree / "data64"
    if not data64.exists():
        from qagan_plugin.data.natural import export_image_folder

        export_image_folder(str(data64), n=64, size=64, seed=0)
    save = str(tree / "runs" / "pggan")
    env = {"WANDB_MODE": "disabled"}
    log, _ = _run_with_data(tree, cfg, save, data64, ["--save_freq", "14"], env)
    lods = _lods(log)
    expected = [schedule_lod(step * 8 / 1000, 4, 0.032, 0.032) for step in range(len(lods))]
    assert lods == pytest.approx(expected)
    fades = {math_floor for math_floor in (int(l) for l in lods if l != int(l))}
    assert fades >= {3, 2}, lods  # faded into 8x8 (lod 4 -> 3) and into 16x16 (3 -> 2)
    ckpt_dir = glob.glob(os.path.join(save, "checkpoints", "*"))[0]
    cfg_b = tiny_config(tree, src, "pggan-b", PGGAN_TINY, 8, 17)
    data_b = yaml.safe_load(open(cfg_b))
    data_b["DATA"]["img_size"] = 64
    yaml.safe_dump(data_b, open(cfg_b, "w"))
    log_b, _ = _run_with_data(tree, cfg_b, save, data64, ["--save_freq", "100", "-ckpt", ckpt_dir], env)
    first = step_lines(log_b)[0]
    assert re.search(r"> Step:\s+15 ", first), first
    resumed = _lods(log_b)
    assert resumed[0] == pytest.approx(schedule_lod(14 * 8 / 1000, 4, 0.032, 0.032))  # same level and alpha
    assert 2 < resumed[0] < 3


def _run_with_data(tree, cfg, save, data, extra, env_extra):
    env = {**os.environ, "OMP_NUM_THREADS": "2", **env_extra}
    cmd = [sys.executable, "src/main.py", "-t", "-metrics", "none", "-cfg", cfg, "-data", str(data), "-save", save,
           "--num_workers", "1", "--print_freq", "1", "--seed", "0", *extra]
    start = time.time()
    proc = subprocess.run(cmd, cwd=tree / "tree", env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "End of training!" in out, out[-4000:]
    return out, time.time() - start


@pytest.mark.slow
def test_pggan_ddp_with_idle_blocks(tree):
    import socket

    src = tree / "tree" / "src" / "configs" / "CIFAR10" / "PGGAN-WGAN-GP.yaml"
    cfg = tiny_config(tree, src, "pggan-ddp", PGGAN_TINY, 16, 3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # at lod 3 (4x4) every block above 4x4 is idle: DDP must not wait for their gradients
    log, _ = run_studiogan(tree, cfg, str(tree / "runs" / "pggan-ddp"), extra=["-DDP", "--cpu_processes", "2"],
                           env_extra={"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"})
    assert _lods(log) and _lods(log)[0] == 3.0
