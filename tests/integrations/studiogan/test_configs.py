import os
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
SCRIPT = os.path.join(ROOT, "configs", "generate_studiogan.py")


def test_committed_configs_equal_generator_output():
    proc = subprocess.run([sys.executable, SCRIPT, "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_recipe_on_every_backbone_and_dataset():
    sys.path.insert(0, os.path.join(ROOT, "configs"))
    import generate_studiogan as gen

    files = gen.generate()
    for dataset, (data, allowed) in gen.DATASETS.items():
        for label, (_, sizes) in gen.BACKBONES.items():
            runs = data["img_size"] in sizes and (allowed is None or label in allowed)
            for recipe_label in gen.RECIPES.values():
                assert (os.path.join(dataset, f"{label}-{recipe_label}.yaml") in files) == runs
    assert os.path.join("CIFAR10", "DCGAN-QAGAN-NIQE.yaml") in files          # deep_conv at 32 only
    assert os.path.join("CelebA", "DCGAN-QAGAN-NIQE.yaml") not in files
    assert os.path.join("STL10", "QAGAN-ResNet-QAGAN-SSIM.yaml") in files


def test_ab_baseline_differs_only_in_the_loss():
    sys.path.insert(0, os.path.join(ROOT, "configs"))
    import generate_studiogan as gen

    files = {k: yaml.safe_load(v) for k, v in gen.generate().items()}
    for path, cfg in files.items():
        if "-QAGAN-" in path or "-BWGAN-" in path:
            base = files[_baseline(path)]
            assert {k: v for k, v in cfg.items() if k != "LOSS"} == {k: v for k, v in base.items() if k != "LOSS"}


def _baseline(path):
    for label in ("QAGAN-SSIM", "QAGAN-NIQE", "BWGAN-Sobolev", "BWGAN-L10"):
        if path.endswith(f"-{label}.yaml"):
            return path[: -len(f"{label}.yaml")] + "WGAN-GP.yaml"
    raise AssertionError(path)


def test_paper_configs_follow_the_authors():
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "studiogan", "CIFAR10", "Paper-QAGAN-NIQE.yaml")))
    assert cfg["LOSS"] == {"adv_loss": "qagan_niqe", "qagan_gp_lambda": 1.0, "qagan_lambda": 0.1,
                           "qagan_drift_lambda": 1e-5}
    opt = cfg["OPTIMIZATION"]
    assert (opt["g_lr"], opt["beta1"], opt["beta2"], opt["d_updates_per_step"], opt["batch_size"]) == \
        (0.0002, 0.0, 0.9, 5, 64)
    assert opt["qagan_linear_decay_steps"] == 100000 and cfg["MODEL"]["backbone"] == "qagan_resnet"
