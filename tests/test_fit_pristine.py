import os

import numpy as np
import pytest
import torch
from PIL import Image

from qagan_plugin import NIQEGradientPenalty
from qagan_plugin.cli import main
from qagan_plugin.data.natural import export_image_folder
from qagan_plugin.demo import DemoConfig, train
from qagan_plugin.fit_pristine import load_images, list_images
from qagan_plugin.functional.niqe import mvg_fit
from qagan_plugin.models.loading import load_discriminator
from qagan_plugin.regularizers.gradient import input_gradient


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit")
    out = str(root / "demo")
    train(DemoConfig(recipe="wgan_gp", steps=1, width=16, batch=8, n_critic=1, train_patches=64,
                     eval_samples=64), out, progress=False)
    data = str(root / "data")
    export_image_folder(data, n=48, size=32, seed=2)
    return os.path.join(out, "checkpoint.pt"), data, root


def test_round_trip_reproduces_statistics(trained, capsys):
    ckpt, data, root = trained
    out = str(root / "pristine.npz")
    assert main(["fit-pristine", "--discriminator", ckpt, "--data", data, "--out", out, "--quiet"]) == 0
    assert "feature vectors from 57 images" in capsys.readouterr().out
    # independent recomputation: the same critic, images and pipeline
    D, size = load_discriminator(ckpt)
    x = load_images(list_images(data), size).requires_grad_(True)
    grad = input_gradient(D(x), x, create_graph=False)
    penalty = NIQEGradientPenalty(pristine=out)
    mu, cov = mvg_fit(penalty.features(grad).double())
    assert torch.allclose(penalty.pristine.mu, mu, atol=1e-5)
    assert torch.allclose(penalty.pristine.cov, cov, atol=1e-5, rtol=1e-4)
    assert penalty.pristine.ready and bool(penalty.pristine.fixed)
    assert int(np.load(out)["seen"]) == 57


@pytest.mark.parametrize("case, message", [
    ("missing_ckpt", "no such checkpoint file"),
    ("no_discriminator", "no discriminator found"),
    ("empty_data", "no images found"),
    ("too_small", "smaller than the critic's 32x32 input"),
    ("bad_out", "expected a file name ending in .npz"),
])
def test_bad_input_one_line_nothing_written(trained, tmp_path, capsys, case, message):
    ckpt, data, _ = trained
    out = str(tmp_path / "p.npz")
    if case == "missing_ckpt":
        ckpt = str(tmp_path / "none.pt")
    elif case == "no_discriminator":
        ckpt = str(tmp_path / "other.pt")
        torch.save({"G": {"w": torch.zeros(1)}, "step": 3}, ckpt)
    elif case == "empty_data":
        data = str(tmp_path / "empty")
        os.makedirs(data)
    elif case == "too_small":
        data = str(tmp_path / "small")
        os.makedirs(data)
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(os.path.join(data, "a.png"))
    elif case == "bad_out":
        out = str(tmp_path / "p.txt")
    rc = main(["fit-pristine", "--discriminator", ckpt, "--data", data, "--out", out, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not any(f.startswith("p.") for f in os.listdir(tmp_path))


def test_inspect_figure(trained, tmp_path, capsys):
    ckpt, _, _ = trained
    img = os.path.join(os.path.dirname(__file__), "..", "qagan_plugin", "data", "images", "astronaut.png")
    out = str(tmp_path / "fig.png")
    assert main(["inspect", "--image", img, "--discriminator", ckpt, "--out", out, "--size", "64"]) == 0
    with Image.open(out) as im:
        assert im.size[0] > 600 and im.size[1] > 600
    assert main(["inspect", "--image", img, "--discriminator", str(tmp_path / "none.pt"),
                 "--out", str(tmp_path / "f2.png")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "f2.png")
