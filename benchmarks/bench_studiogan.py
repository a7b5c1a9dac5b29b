"""Per-step cost of the recipes inside StudioGAN (CPU), and seconds per step per backbone.

    STUDIOGAN_ROOT=/path/to/PyTorch-StudioGAN python benchmarks/bench_studiogan.py [--steps 8] [--repeats 2]

Copies STUDIOGAN_ROOT to a temporary folder, installs the patch series and configs, exports
640 natural 32x32 patches as the dataset, then

1. trains `ResNet-<Recipe>.yaml` (StudioGAN's resnet backbone, g/d_conv_dim 64, batch 64, 5 D steps
   per G step, CIFAR-like 32x32) for every recipe and reports the mean wall time of a training
   step (from the plugin's `qagan/step_seconds` log value, steps 2.. of the run; the mean, not the
   median, so that NIQE-GP's pristine refresh every 16 D steps is counted), averaged over
   `--repeats` runs in ABBA order, and its ratio to the `wgan_gp` baseline config, which differs
   only in the LOSS section. Each run is one process with ~15 s of start-up, and its first steps
   are slow and erratic (in a diagnostic run of 8 steps: 17-21 s for the first, 15-17 s later), so
   a few long runs measure better than many short ones: runs of 3 steps gave ratios spread over
   +-15 % between repeats;
2. with `--backbones`, the same for the tiny CPU configs of the end-to-end tests, per backbone.

NIQE-GP runs with `qagan_niqe_min_samples: 64` so that it is active from the first pristine refresh
(with the default 256 it would contribute nothing for the first 64 D steps of a short run).
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RECIPES = {"wgan_gp": "WGAN-GP", "qagan_ssim": "QAGAN-SSIM", "qagan_niqe": "QAGAN-NIQE",
           "bwgan_sobolev": "BWGAN-Sobolev", "bwgan_lp": "BWGAN-L10"}
TARGETS = {"qagan_ssim": 1.05, "qagan_niqe": 1.25, "bwgan_sobolev": 1.10, "bwgan_lp": 1.10}
TINY = {"DCGAN": {}, "ResNet": {"g_conv_dim": 8, "d_conv_dim": 8}, "BigGAN": {"g_conv_dim": 8, "d_conv_dim": 8},
        "BigGAN-Deep": {"g_conv_dim": 8, "d_conv_dim": 8}, "BigGAN-Deep-StudioGAN": {"g_conv_dim": 8, "d_conv_dim": 8},
        "StyleGAN2": {"z_dim": 64, "w_dim": 64}, "QAGAN-ResNet": {"g_conv_dim": 8, "d_conv_dim": 8}}


def prepare(work: str) -> None:
    from qagan_plugin.cli import main
    from qagan_plugin.data.natural import export_image_folder

    shutil.copytree(os.environ["STUDIOGAN_ROOT"], os.path.join(work, "tree"), ignore=shutil.ignore_patterns(".git"))
    if main(["studiogan", "install", os.path.join(work, "tree")]) != 0:
        raise SystemExit("install failed")
    export_image_folder(os.path.join(work, "data"), n=640, size=32, seed=0)


def run(work: str, src: str, name: str, steps: int, batch: int, model=None, d_updates=None) -> float:
    cfg = yaml.safe_load(open(os.path.join(work, "tree", "src", "configs", "CIFAR10", src)))
    cfg["DATA"] = {"name": "BENCH", "img_size": 32, "num_classes": 1}
    cfg["MODEL"].update(model or {})
    cfg["OPTIMIZATION"].update(batch_size=batch, total_steps=steps)
    if d_updates is not None:
        cfg["OPTIMIZATION"]["d_updates_per_step"] = d_updates
    if "STYLEGAN" in cfg:
        cfg["STYLEGAN"]["d_epilogue_mbstd_group_size"] = min(batch, cfg["STYLEGAN"]["d_epilogue_mbstd_group_size"])
    cfg["LOSS"]["qagan_niqe_min_samples"] = 64
    path = os.path.join(work, f"{name}.yaml")
    yaml.safe_dump(cfg, open(path, "w"))
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    cmd = [sys.executable, "src/main.py", "-t", "-metrics", "none", "-cfg", path, "-data", os.path.join(work, "data"),
           "-save", os.path.join(work, "runs", name), "--num_workers", "1", "--print_freq", "1",
           "--save_freq", str(steps + 10), "--seed", "0"]
    proc = subprocess.run(cmd, cwd=os.path.join(work, "tree"), env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{log[-3000:]}")
    values = [float(v) for v in re.findall(r"qagan/step_seconds: ([0-9.e+-]+)", log)]
    return statistics.mean(values[1:]) if len(values) > 1 else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2, help="repetitions per recipe, ABBA-interleaved (use an even number)")
    p.add_argument("--backbones", action="store_true", help="also time the tiny per-backbone configs")
    args = p.parse_args(argv)
    if not os.environ.get("STUDIOGAN_ROOT"):
        raise SystemExit("set STUDIOGAN_ROOT to a PyTorch-StudioGAN clone at 947b35e")
    start = time.time()
    with tempfile.TemporaryDirectory() as work:
        prepare(work)
        times = {r: [] for r in RECIPES}
        for rep in range(args.repeats):
            # ABBA order (forward, then reversed): a slow linear drift of the machine's speed
            # cancels in the mean over an even number of repeats instead of favouring one recipe
            order = list(RECIPES.items())
            for recipe, label in (order if rep % 2 == 0 else order[::-1]):
                times[recipe].append(run(work, f"ResNet-{label}.yaml", f"{recipe}-{rep}", args.steps, 64))
                print(f"  repeat {rep} {recipe}: {times[recipe][-1]:.3f} s/step", file=sys.stderr, flush=True)
        base = statistics.mean(times["wgan_gp"])
        lines = ["| recipe (StudioGAN resnet, 32x32, batch 64, 5 D steps) | s / step (mean of runs) "
                 "| ratio to wgan_gp | per-repeat ratios | target |",
                 "|---|---:|---:|---|---|"]
        for recipe in RECIPES:
            t = statistics.mean(times[recipe])
            per_repeat = " ".join(f"{a / b:.3f}" for a, b in zip(times[recipe], times["wgan_gp"]))
            target = TARGETS.get(recipe)
            verdict = "(baseline)" if target is None else f"<= {target} {'PASS' if t / base <= target else 'FAIL'}"
            lines.append(f"| `{recipe}` | {t:.3f} | {t / base:.3f} | {per_repeat} | {verdict} |")
        if args.backbones:
            lines += ["", "| backbone (tiny CPU config of the e2e tests, batch 16) | s / step, wgan_gp | s / step, qagan_niqe |",
                      "|---|---:|---:|"]
            for backbone, model in TINY.items():
                batch = 8 if backbone == "StyleGAN2" else 16
                cells = [run(work, f"{backbone}-{RECIPES[r]}.yaml", f"{backbone}-{r}", 6, batch, model, None)
                         for r in ("wgan_gp", "qagan_niqe")]
                lines.append(f"| {backbone} | {cells[0]:.3f} | {cells[1]:.3f} |")
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores, "
          f"command `python benchmarks/bench_studiogan.py {' '.join(argv or sys.argv[1:])}`, "
          f"{time.time() - start:.0f} s in all.\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
