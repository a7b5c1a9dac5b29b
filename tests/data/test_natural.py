import os

import numpy as np
import pytest
import torch
from PIL import Image

from qagan_plugin.data.natural import export_image_folder, natural_patches


def test_deterministic_by_seed_and_in_range():
    a = natural_patches(64, 32, seed=3)
    assert a.shape == (64, 3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, natural_patches(64, 32, seed=3))
    assert not torch.equal(a, natural_patches(64, 32, seed=4))
    assert a.min() >= -1 and a.max() <= 1
    # natural content: not constant, and neighbouring pixels strongly correlated (unlike noise)
    x = a.mean(1)
    corr = torch.corrcoef(torch.stack([x[:, :, :-1].flatten(), x[:, :, 1:].flatten()]))[0, 1]
    assert corr > 0.8


def test_splits_come_from_disjoint_rows():
    from qagan_plugin.data import natural

    train = natural._sources("train")
    valid = natural._sources("valid")
    for t, v in zip(train, valid):
        full_h = t.shape[1] + v.shape[1]
        assert t.shape[1] == int(round(full_h * natural.TRAIN_FRACTION))
    v = natural_patches(16, 32, seed=0, split="valid")
    assert v.shape == (16, 3, 32, 32)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n: expected an int >= 1"),
    (dict(n=4, size=2), "size: expected an int in"),
    (dict(n=4, split="test"), "split: expected 'train' or 'valid'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        natural_patches(**kwargs)


def test_export_image_folder_layout_and_refusal(tmp_path):
    folders = export_image_folder(str(tmp_path), n=20, size=32, seed=1)
    assert folders == [str(tmp_path / "train" / "natural"), str(tmp_path / "valid" / "natural")]
    files = sorted(os.listdir(folders[0]))
    assert len(files) == 20 and len(os.listdir(folders[1])) == 4
    img = np.asarray(Image.open(os.path.join(folders[0], files[0])))
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    expected = ((natural_patches(20, 32, 1)[0] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(img, expected)
    with pytest.raises(FileExistsError, match="already exists and is not empty"):
        export_image_folder(str(tmp_path), n=5)
    assert len(os.listdir(folders[0])) == 20  # nothing overwritten
