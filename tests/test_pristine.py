"""The pristine MVG: online EMA updates, files, state_dict, and the all-reduce under torch.distributed."""
import os
import socket

import numpy as np
import pytest
import scipy.io
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from qagan_plugin.pristine import PristineModel, load_mvg
from qagan_plugin.regularizers import NIQEGradientPenalty

F64 = torch.float64


def _features(n: int, d: int = 36, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=F64) / d ** 0.5
    return torch.randn(n, d, generator=g, dtype=F64) @ a + torch.randn(d, generator=g, dtype=F64)


def test_first_update_is_sample_mean_and_unbiased_cov():
    f = _features(80)
    model = PristineModel(36, min_samples=50)
    assert not model.ready
    model.update(f)
    assert np.allclose(model.mu.numpy(), f.numpy().mean(0), atol=1e-12)
    assert np.allclose(model.cov.numpy(), np.cov(f.numpy(), rowvar=False), atol=1e-12)
    assert float(model.seen) == 80 and model.ready
    assert model.mu.dtype == F64


def test_first_update_from_float32_features():
    f = _features(60).float()
    model = PristineModel(36, min_samples=50)
    model.update(f)
    assert np.allclose(model.cov.numpy(), np.cov(f.double().numpy(), rowvar=False), atol=1e-10)


def test_ema_second_update():
    f1, f2 = _features(50, seed=1), _features(30, seed=2)
    decay = 0.8
    model = PristineModel(36, ema_decay=decay, min_samples=70)
    model.update(f1)
    assert not model.ready
    model.update(f2)
    assert model.ready and float(model.seen) == 80
    a, b = f1.numpy(), f2.numpy()
    s1 = decay * a.sum(0) + b.sum(0)
    s2 = decay * a.T @ a + b.T @ b
    w = decay * 50 + 30
    mu = s1 / w
    cov = (s2 - w * np.outer(mu, mu)) / (w - 1)
    assert np.allclose(model.mu.numpy(), mu, atol=1e-12)
    assert np.allclose(model.cov.numpy(), cov, atol=1e-12)
    assert float(model.weight) == pytest.approx(w)


def test_ema_decay_zero_forgets():
    model = PristineModel(36, ema_decay=0.0, min_samples=40)
    model.update(_features(50, seed=1))
    f2 = _features(45, seed=2)
    model.update(f2)
    assert np.allclose(model.mu.numpy(), f2.numpy().mean(0), atol=1e-12)
    assert np.allclose(model.cov.numpy(), np.cov(f2.numpy(), rowvar=False), atol=1e-12)


def test_state_dict_round_trip():
    model = PristineModel(36, ema_decay=0.7, min_samples=60)
    model.update(_features(40, seed=1))
    model.update(_features(40, seed=2))
    fresh = PristineModel(36, ema_decay=0.7, min_samples=60)
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.mu, model.mu) and torch.equal(fresh.cov, model.cov)
    assert float(fresh.seen) == 80 and fresh.ready
    # continuing the EMA from the loaded state gives the same model
    f3 = _features(20, seed=3)
    model.update(f3)
    fresh.update(f3)
    assert torch.allclose(fresh.cov, model.cov, atol=1e-14)


def test_save_then_from_file(tmp_path):
    model = PristineModel(36, min_samples=40)
    model.update(_features(64))
    path = tmp_path / "pristine.npz"
    model.save(str(path))
    assert path.exists() and not (tmp_path / "pristine.npz.tmp.npz").exists()
    loaded = PristineModel.from_file(str(path))
    assert bool(loaded.fixed) and loaded.ready
    assert torch.equal(loaded.mu, model.mu) and torch.equal(loaded.cov, model.cov)
    with pytest.raises(RuntimeError, match=r"fixed"):
        loaded.update(_features(10))


def test_load_mat_authors_keys(tmp_path):
    f = _features(64).numpy()
    mu, cov = f.mean(0)[None, :], np.cov(f, rowvar=False)   # MATLAB's 1x36 row vector
    path = tmp_path / "model_face_grad.mat"
    scipy.io.savemat(str(path), {"mu_prisparam": mu, "cov_prisparam": cov})
    got_mu, got_cov = load_mvg(str(path))
    assert got_mu.shape == (36,) and got_cov.shape == (36, 36)
    assert np.allclose(got_mu.numpy(), mu.ravel()) and np.allclose(got_cov.numpy(), cov)
    model = PristineModel.from_file(str(path))
    assert torch.allclose(model.mu, got_mu)


def test_load_pt_and_basicsr_keys(tmp_path):
    mu, cov = torch.randn(36, dtype=F64), torch.eye(36, dtype=F64) * 2
    pt = tmp_path / "m.pt"
    torch.save({"mu": mu, "cov": cov}, str(pt))
    assert torch.equal(load_mvg(str(pt))[0], mu)
    npz = tmp_path / "m.npz"
    np.savez(npz, mu_pris_param=mu.numpy()[None], cov_pris_param=cov.numpy())
    assert torch.equal(load_mvg(str(npz))[1], cov)


def test_bad_files(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match=r"nope\.npz"):
        PristineModel.from_file(str(missing))
    txt = tmp_path / "model.txt"
    txt.write_text("1 2 3")
    with pytest.raises(ValueError, match=r"model\.txt.*unknown pristine model format"):
        load_mvg(str(txt))
    keys = tmp_path / "keys.npz"
    np.savez(keys, a=np.zeros(36), b=np.eye(36))
    with pytest.raises(ValueError, match=r"keys\.npz: no mean found"):
        load_mvg(str(keys))
    nocov = tmp_path / "nocov.npz"
    np.savez(nocov, mu=np.zeros(36), b=np.eye(36))
    with pytest.raises(ValueError, match=r"nocov\.npz: no covariance found"):
        load_mvg(str(nocov))
    shapes = tmp_path / "shapes.mat"
    scipy.io.savemat(str(shapes), {"mu_prisparam": np.zeros((1, 36)), "cov_prisparam": np.eye(35)})
    with pytest.raises(ValueError, match=r"shapes\.mat: covariance has shape \(35, 35\), expected \(36, 36\)"):
        load_mvg(str(shapes))
    nan = tmp_path / "nan.npz"
    cov = np.eye(36)
    cov[1, 2] = np.nan
    np.savez(nan, mu=np.zeros(36), cov=cov)
    with pytest.raises(ValueError, match=r"nan\.npz: .*NaN"):
        load_mvg(str(nan))
    pickled = tmp_path / "pickled.pt"
    torch.save([torch.zeros(3)], str(pickled))
    with pytest.raises(ValueError, match=r"pickled\.pt: expected a dict"):
        load_mvg(str(pickled))


def test_update_checks():
    model = PristineModel(36, min_samples=40)
    with pytest.raises(ValueError, match=r"features: expected shape \(n, 36\)"):
        model.update(torch.zeros(5, 35))
    with pytest.raises(ValueError, match=r"features: expected shape \(n, 36\)"):
        model.update(np.zeros((5, 36)))
    fixed = PristineModel.from_tensors(torch.zeros(36), torch.eye(36))
    with pytest.raises(RuntimeError, match=r"PristineModel\.update: .*fixed"):
        fixed.update(torch.zeros(5, 36))
    with pytest.raises(ValueError, match=r"min_samples"):
        PristineModel(36, min_samples=36)
    with pytest.raises(ValueError, match=r"ema_decay"):
        PristineModel(36, ema_decay=1.0)
    with pytest.raises(ValueError, match=r"cov: expected shape \(36, 36\)"):
        PristineModel.from_tensors(torch.zeros(36), torch.eye(3))


# ----------------------------------------------------------------------------- torch.distributed (gloo)
WORLD = 2


def _dist_data():
    g = torch.Generator().manual_seed(123)
    feats = [torch.randn(64, 36, generator=g, dtype=F64) * 0.5 + torch.arange(36, dtype=F64) / 36 for _ in range(2)]
    grads = [torch.randn(8, 3, 32, 32, generator=g) * 0.01 for _ in range(2)]
    return feats, grads


def _dist_worker(rank: int, port: int, out_dir: str):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        feats, grads = _dist_data()
        model = PristineModel(36, ema_decay=0.9, min_samples=100)
        for f in feats:
            half = f.shape[0] // WORLD
            model.update(f[rank * half:(rank + 1) * half])
        niqe = NIQEGradientPenalty(min_samples=40)
        for g in grads:
            half = g.shape[0] // WORLD
            niqe.update_pristine(g[rank * half:(rank + 1) * half])
        torch.save({"pristine": model.state_dict(), "niqe": niqe.state_dict()},
                   os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def distributed_states(tmp_path_factory):
    if not dist.is_available():  # pragma: no cover
        pytest.skip("torch.distributed is not available")
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_dist_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [torch.load(str(out / f"rank{r}.pt"), weights_only=True) for r in range(WORLD)]


def test_distributed_ranks_agree(distributed_states):
    a, b = distributed_states
    for key in ("pristine", "niqe"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


def test_distributed_equals_single_process(distributed_states):
    feats, grads = _dist_data()
    ref = PristineModel(36, ema_decay=0.9, min_samples=100)
    for f in feats:
        ref.update(f)
    state = distributed_states[0]["pristine"]
    assert float(state["seen"]) == 128 and float(state["weight"]) == pytest.approx(0.9 * 64 + 64)
    assert torch.allclose(state["mu"], ref.mu, atol=1e-6, rtol=0)
    assert torch.allclose(state["cov"], ref.cov, atol=1e-6, rtol=0)

    niqe = NIQEGradientPenalty(min_samples=40)
    for g in grads:
        niqe.update_pristine(g)
    state = distributed_states[0]["niqe"]
    assert float(state["pristine.seen"]) == 16
    # features are computed per map in float32, whatever the batch split
    assert torch.allclose(state["pristine.mu"], niqe.pristine.mu, atol=1e-6, rtol=1e-6)
    assert torch.allclose(state["pristine.cov"], niqe.pristine.cov, atol=1e-6, rtol=1e-6)
    assert float(niqe.pristine.cov.abs().max()) > 1e-3   # a non-trivial model
