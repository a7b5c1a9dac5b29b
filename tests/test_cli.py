import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from qagan_plugin.cli import main
from qagan_plugin.functional import dq_distance, niqe, ssim

IMAGES = os.path.join(os.path.dirname(__file__), "..", "qagan_plugin", "data", "images")
A = os.path.join(IMAGES, "astronaut.png")
B = os.path.join(IMAGES, "astronaut_blur.png")


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_niqe_lines_and_json(capsys):
    rc, out, err = _run(["niqe", A, B], capsys)
    assert rc == 0 and err == ""
    lines = out.strip().split("\n")
    assert [l.split("\t")[0] for l in lines] == [A, B]
    scores = [float(l.split("\t")[1]) for l in lines]
    assert scores[0] < scores[1]  # blur is less natural
    rgb = np.asarray(Image.open(A), dtype=np.float64)
    grey = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    assert scores[0] == pytest.approx(float(niqe(grey, quantize=True)), abs=1e-5)
    rc, out, _ = _run(["niqe", "--json", A], capsys)
    data = json.loads(out)
    assert data[0]["path"] == A and data[0]["niqe"] == pytest.approx(scores[0], abs=1e-5)


def test_dq_matches_library(capsys):
    rc, out, _ = _run(["dq", "--json", A, B], capsys)
    assert rc == 0
    d = json.loads(out)
    a = torch.from_numpy(np.asarray(Image.open(A), dtype=np.float64)).permute(2, 0, 1)[None]
    b = torch.from_numpy(np.asarray(Image.open(B), dtype=np.float64)).permute(2, 0, 1)[None]
    assert d["ssim"] == pytest.approx(float(ssim(a, b, data_range=255)), abs=1e-9)
    assert d["dq_mean_sqrt"] == pytest.approx(float(dq_distance(a, b, data_range=255, pooling="mean_sqrt")))
    assert d["dq_sqrt_mean"] == pytest.approx(float(dq_distance(a, b, data_range=255, pooling="sqrt_mean")))
    assert d["dq_mean_sqrt"] <= d["dq_sqrt_mean"]  # Jensen
    rc, out, _ = _run(["dq", A, B], capsys)
    assert [l.split("\t")[0] for l in out.strip().split("\n")] == ["ssim", "dq_mean_sqrt", "dq_sqrt_mean"]


def test_list(capsys):
    rc, out, _ = _run(["list"], capsys)
    assert rc == 0
    for name in ("qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp", "wgan_gp", "niqe_gp", "banach_gp"):
        assert f"  {name} " in out


@pytest.fixture
def bad_files(tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(small)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tiny)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((256, 256), np.uint8)).save(grey)
    return {"small": str(small), "tiny": str(tiny), "junk": str(junk), "grey": str(grey),
            "missing": str(tmp_path / "missing.png"), "dir": str(tmp_path)}


@pytest.mark.parametrize("argv, message", [
    (["niqe", A, "{missing}"], "{missing}: no such file"),
    (["niqe", "{junk}"], "{junk}: cannot read as an image"),
    (["niqe", "{small}"], "{small}: image is 40x50, smaller than one 96x96 NIQE patch"),
    (["niqe", "{dir}"], "is a directory"),
    (["dq", A, "{grey}"], "shapes differ"),
    (["dq", "{tiny}", "{tiny}"], "smaller than the 11x11 SSIM window"),
])
def test_errors_are_one_line_and_write_nothing(argv, message, bad_files, capsys):
    argv = [a.format(**bad_files) for a in argv]
    rc, out, err = _run(argv, capsys)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message.format(**bad_files) in err


def test_console_script_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "qagan_plugin.cli", "niqe", A], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith(A + "\t")
