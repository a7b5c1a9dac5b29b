"""dQ/SSIM against pytorch_msssim, and standard NIQE against pyiqa, on CPU.

SSIM / dQ (float32, 11x11 Gaussian window, sigma 1.5, valid filtering, data range 2):
- ours: ``qagan_plugin.functional.dq_distance(x, y)`` (paper variant) and
  ``qagan_plugin.functional.ssim(x, y)``;
- peer: ``pytorch_msssim.ssim(X, Y, data_range=2, size_average=False, win_size=11,
  win_sigma=1.5)``;
- inputs: crops of ``skimage.data`` colour images in [-1, 1] (``x``) and the same
  plus Gaussian noise (sigma 0.1, clamped; ``y``); 64x3x32x32 (main row) and
  16x3x256x256 (secondary row).
- forward under ``torch.no_grad``; forward+backward with ``x.requires_grad_()`` and
  ``out.sum().backward()`` for every method. Calls of the contenders are
  interleaved; median per-call time. Target: forward ratio ours / peer <= 1.0.

NIQE (standard, natural-scene model, patch 96):
- 16 grey 256x256 crops (two random crops each of 8 ``skimage.data`` images, grey
  by MATLAB ``rgb2gray`` weights and rounding, values in [0, 255]);
- ours: ``qagan_plugin.niqe(batch)`` in float32 and in float64, whole batch at once;
- peer: pyiqa 0.1.16's ``NIQE`` arch built offline with
  ``pretrained_model_path`` = a ``.mat`` written from our
  ``qagan_plugin/data/niqe_natural_scene_model.npz`` (same mu/cov, no download),
  called on the batch in [0, 1] (its convention) in one call;
- the scores are printed side by side (ours with exact AGGD shape, ours with
  MATLAB's 0.001 grid, pyiqa) to show it is the same computation;
- forward+backward per image: ``images.requires_grad_()``, ``score.sum().backward()``,
  batch time / 16. Target: ours at least 5x faster than pyiqa on the batch of 16.

Run: ``python benchmarks/bench_metrics.py``.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import qagan_plugin  # noqa: E402
from qagan_plugin.functional import dq_distance, ssim  # noqa: E402

SSIM_TARGET = 1.0   # ours / pytorch_msssim, forward
NIQE_TARGET = 5.0   # pyiqa / ours, batch of 16
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)


# ------------------------------------------------------------------ timing
def interleaved(fns: dict, calls: int, warmup: int = 2, min_time: float = 0.0) -> dict:
    """Median seconds per call of each ``fn`` (no arguments), calls interleaved round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    i = 0
    while i < calls or time.perf_counter() - start < min_time:
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
        i += 1
    return {k: statistics.median(v) for k, v in times.items()}


# ------------------------------------------------------------------ data
def colour_crops(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``(n, 3, size, size)`` random crops of colour ``skimage.data`` images in [-1, 1]."""
    import skimage.data

    rng = np.random.default_rng(seed)
    names = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")
    images = [getattr(skimage.data, k)() for k in names]
    images = [im for im in images if min(im.shape[:2]) >= size]
    crops = []
    for _ in range(n):
        im = images[rng.integers(len(images))]
        top, left = rng.integers(im.shape[0] - size + 1), rng.integers(im.shape[1] - size + 1)
        crops.append(torch.from_numpy(im[top:top + size, left:left + size].astype(np.float32)).permute(2, 0, 1))
    return torch.stack(crops) / 127.5 - 1.0


def grey_crops(n: int = 16, size: int = 256, seed: int = 0) -> torch.Tensor:
    """``(n, 1, size, size)`` grey crops (MATLAB rgb2gray weights, rounded) in [0, 255], float64."""
    import skimage.data

    rng = np.random.default_rng(seed)
    names = ("camera", "astronaut", "coffee", "rocket", "chelsea", "coins", "clock", "gravel")
    images = []
    for k in names:
        im = getattr(skimage.data, k)().astype(np.float64)
        if im.ndim == 3:
            im = np.round(im[..., :3] @ np.array(MATLAB_GRAY))
        images.append(im)
    crops = []
    for i in range(n):
        im = images[i % len(images)]
        top, left = rng.integers(im.shape[0] - size + 1), rng.integers(im.shape[1] - size + 1)
        crops.append(torch.from_numpy(im[top:top + size, left:left + size].copy()))
    return torch.stack(crops)[:, None]


# ------------------------------------------------------------------ SSIM / dQ
def bench_ssim(shape, calls: int, min_time: float = 0.0, verbose: bool = True) -> dict:
    import pytorch_msssim

    n, c, h, w = shape
    torch.manual_seed(0)
    x = colour_crops(n, h)
    y = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    peer_kw = dict(data_range=2, size_average=False, win_size=11, win_sigma=1.5)
    methods = {
        "dq_distance": lambda a, b: dq_distance(a, b),
        "ssim": lambda a, b: ssim(a, b),
        "pytorch_msssim.ssim": lambda a, b: pytorch_msssim.ssim(a, b, **peer_kw),
    }
    with torch.no_grad():
        ours, peer = ssim(x, y), pytorch_msssim.ssim(x, y, **peer_kw)
        max_diff = float((ours - peer).abs().max())

    def fwd(f):
        def run():
            with torch.no_grad():
                f(x, y)
        return run

    def fwd_bwd(f):
        def run():
            xg = x.clone().requires_grad_(True)
            f(xg, y).sum().backward()
        return run

    forward = interleaved({k: fwd(f) for k, f in methods.items()}, calls, min_time=min_time)
    backward = interleaved({k: fwd_bwd(f) for k, f in methods.items()}, calls, min_time=min_time)
    out = {"shape": list(shape), "forward": forward, "forward_backward": backward,
           "ssim_max_abs_diff_vs_peer": max_diff}
    if verbose:
        print(f"  {n}x{c}x{h}x{w}: forward " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in forward.items())
              + "; fwd+bwd " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in backward.items())
              + f"; |ssim - pytorch_msssim| max {max_diff:.2e}", flush=True)
    return out


# ------------------------------------------------------------------ NIQE
def pyiqa_niqe_module(tmpdir: str):
    """pyiqa's NIQE arch with our natural-scene model written to a .mat (no download)."""
    import scipy.io
    from pyiqa.archs.niqe_arch import NIQE

    from qagan_plugin.data import NATURAL_SCENE_MODEL_FILE

    with np.load(os.path.join(ROOT, "qagan_plugin", "data", NATURAL_SCENE_MODEL_FILE), allow_pickle=False) as d:
        mu, cov = d["mu_pris_param"], d["cov_pris_param"]
    path = os.path.join(tmpdir, "niqe_modelparameters.mat")
    scipy.io.savemat(path, {"mu_prisparam": mu.reshape(1, -1), "cov_prisparam": cov})
    return NIQE(channels=1, test_y_channel=True, pretrained_model_path=path).eval()


def bench_niqe(calls: int, verbose: bool = True) -> dict:
    imgs64 = grey_crops(16, 256)
    imgs32 = imgs64.float()
    with tempfile.TemporaryDirectory() as tmp:
        peer = pyiqa_niqe_module(tmp)
    peer_in = (imgs64 / 255.0).float()  # pyiqa: [0, 1]; it multiplies by 255 and rounds

    # scores side by side
    with torch.no_grad():
        s64 = qagan_plugin.niqe(imgs64)
        s32 = qagan_plugin.niqe(imgs32)
        s_grid = qagan_plugin.niqe(imgs64, shape_method="grid")
        s_peer = peer(peer_in).reshape(-1).double()
    scores = {"ours_float64": s64.tolist(), "ours_float32": s32.double().tolist(),
              "ours_float64_grid": s_grid.tolist(), "pyiqa": s_peer.tolist()}

    def fwd(f, inp):
        def run():
            with torch.no_grad():
                f(inp)
        return run

    forward = interleaved({"ours_float32": fwd(qagan_plugin.niqe, imgs32),
                           "ours_float64": fwd(qagan_plugin.niqe, imgs64),
                           "pyiqa": fwd(peer, peer_in)}, calls)

    def fwd_bwd(f, inp):
        def run():
            xg = inp.clone().requires_grad_(True)
            f(xg).sum().backward()
            return xg.grad
        return run

    bwd_fns = {"ours_float32": fwd_bwd(qagan_plugin.niqe, imgs32),
               "ours_float64": fwd_bwd(qagan_plugin.niqe, imgs64)}
    peer_bwd = "ok"
    try:
        g = fwd_bwd(peer, peer_in)()
        if g is None or not torch.isfinite(g).all():
            peer_bwd = "gradient missing or not finite"
        else:
            bwd_fns["pyiqa"] = fwd_bwd(peer, peer_in)
    except Exception as exc:  # report, do not fail the benchmark
        peer_bwd = f"{type(exc).__name__}: {exc}"
    backward = interleaved(bwd_fns, max(3, calls // 2))
    out = {"forward_batch16": forward, "forward_backward_batch16": backward, "scores": scores,
           "pyiqa_backward": peer_bwd,
           "max_abs_diff": {"ours64_vs_pyiqa": float((s64 - s_peer).abs().max()),
                            "ours64grid_vs_pyiqa": float((s_grid - s_peer).abs().max()),
                            "ours32_vs_ours64": float((s32.double() - s64).abs().max())}}
    if verbose:
        print("  NIQE batch 16: forward " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in forward.items())
              + "; fwd+bwd " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in backward.items())
              + f"; pyiqa backward: {peer_bwd}", flush=True)
    return out


# ------------------------------------------------------------------ report
def _pf(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def markdown(ssim_rows, niqe_res) -> str:
    lines = ["**SSIM / dQ vs pytorch_msssim** (float32, 11x11 window, valid; median ms per call)", "",
             "| input | mode | ours dq_distance | ours ssim | pytorch_msssim.ssim | dq / peer | ssim / peer | target |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for row in ssim_rows:
        shape = "x".join(str(s) for s in row["shape"])
        for mode, key in (("forward (no_grad)", "forward"), ("forward+backward", "forward_backward")):
            t = row[key]
            peer = t["pytorch_msssim.ssim"]
            r_dq, r_ss = t["dq_distance"] / peer, t["ssim"] / peer
            target = (f"<= {SSIM_TARGET:.1f}: dq {_pf(r_dq <= SSIM_TARGET)}, ssim {_pf(r_ss <= SSIM_TARGET)}"
                      if key == "forward" else "(reported)")
            lines.append(f"| {shape} | {mode} | {t['dq_distance'] * 1e3:.2f} | {t['ssim'] * 1e3:.2f} | "
                         f"{peer * 1e3:.2f} | {r_dq:.2f} | {r_ss:.2f} | {target} |")
    lines.append("")
    lines.append("max |ours ssim - pytorch_msssim| per image: " + ", ".join(
        f"{'x'.join(str(s) for s in r['shape'])}: {r['ssim_max_abs_diff_vs_peer']:.1e}" for r in ssim_rows))
    lines += ["", "**Standard NIQE, batch of 16 grey 256x256 images** (median ms)", "",
              "| implementation | forward, batch 16 | per image | fwd+bwd per image | pyiqa / ours (fwd) | target |",
              "|---|---:|---:|---:|---:|---|"]
    fw, bw = niqe_res["forward_batch16"], niqe_res["forward_backward_batch16"]
    for k, label in (("ours_float32", "qagan_plugin.niqe float32"), ("ours_float64", "qagan_plugin.niqe float64"),
                     ("pyiqa", "pyiqa 0.1.16 NIQE (float64 inside)")):
        b = f"{bw[k] * 1e3 / 16:.1f}" if k in bw else f"n/a ({niqe_res['pyiqa_backward']})"
        if k == "pyiqa":
            sp, target = "1", "-"
        else:
            s = fw["pyiqa"] / fw[k]
            sp, target = f"{s:.2f}x", f">= {NIQE_TARGET:.0f}x {_pf(s >= NIQE_TARGET)}"
        lines.append(f"| {label} | {fw[k] * 1e3:.1f} | {fw[k] * 1e3 / 16:.1f} | {b} | {sp} | {target} |")
    sc = niqe_res["scores"]
    lines += ["", "NIQE scores, same images (ours exact AGGD shape / ours MATLAB 0.001 grid / pyiqa):", "",
              "| image | ours float64 | ours float32 | ours grid | pyiqa |", "|---:|---:|---:|---:|---:|"]
    for i in range(len(sc["pyiqa"])):
        lines.append(f"| {i} | {sc['ours_float64'][i]:.4f} | {sc['ours_float32'][i]:.4f} | "
                     f"{sc['ours_float64_grid'][i]:.4f} | {sc['pyiqa'][i]:.4f} |")
    d = niqe_res["max_abs_diff"]
    lines.append("")
    lines.append(f"max |diff|: ours float64 vs pyiqa {d['ours64_vs_pyiqa']:.2e}; ours grid vs pyiqa "
                 f"{d['ours64grid_vs_pyiqa']:.2e}; ours float32 vs float64 {d['ours32_vs_ours64']:.2e}.")
    return "\n".join(lines)


def run(threads: int = 2, calls_small: int = 40, calls_large: int = 6, calls_niqe: int = 20, verbose: bool = True):
    torch.set_num_threads(threads)
    if verbose:
        print(f"bench_metrics: {threads} threads", flush=True)
    ssim_rows = [bench_ssim((64, 3, 32, 32), calls_small, verbose=verbose),
                 bench_ssim((16, 3, 256, 256), calls_large, verbose=verbose)]
    niqe_res = bench_niqe(calls_niqe, verbose=verbose)
    return ssim_rows, niqe_res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calls-small", type=int, default=40)
    ap.add_argument("--calls-large", type=int, default=6)
    ap.add_argument("--calls-niqe", type=int, default=20)
    ap.add_argument("--json", help="also write the raw results to this file")
    args = ap.parse_args(argv)
    ssim_rows, niqe_res = run(args.threads, args.calls_small, args.calls_large, args.calls_niqe)
    print()
    print(markdown(ssim_rows, niqe_res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"ssim": ssim_rows, "niqe": niqe_res}, fh, indent=1)


if __name__ == "__main__":
    main()
