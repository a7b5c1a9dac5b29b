"""Cost of one discriminator update per recipe on the CIFAR-10 ResNet critic.

One D update = ``D(real)``, ``D(fake)``, ``recipe.discriminator_loss`` (with every
penalty of the recipe, including the interpolate gradient and its double
backprop), ``loss.backward()`` and an Adam step (lr 2e-4, betas (0, 0.9)).
Batch 64 real + 64 fake, 32x32, float32, one process, CPU threads fixed.

Protocol:
- every recipe gets its own copy of the same initial critic, Adam and recipe
  object, kept across repetitions; fakes come from the ResNet generator once
  (detached; the G forward is not part of a D update); reals are fixed random
  32x32 crops of ``skimage.data`` colour images scaled to [-1, 1].
- per repetition: 2 warm-up D steps of each recipe, then 5 timed D steps of each
  recipe, interleaved round robin (step 1 of every recipe, then step 2, ...; each
  step timed on its own with ``time.perf_counter``), so that drift of the machine
  (other processes) hits all recipes alike; the recipe order rotates every
  repetition. The per-repetition time is the median of the 5 timed steps (robust
  to a single step hit by other load; the mean is kept in the JSON); the ratio to
  ``wgan_gp`` is taken per repetition and the table shows medians over repetitions.
- ``qagan_niqe`` refreshes its online pristine model (one extra critic
  forward/backward on the reals plus NIQE features) every 16 D steps. Its
  honest per-step cost is amortized: inside every NIQE timed window the penalty's
  ``calls`` buffer (it only schedules the refresh) is set so that exactly the
  3rd of the 5 timed steps is a refresh step; then
  ``amortized = (15 * median(4 normal steps) + refresh step) / 16``.
  NIQE-GP runs with ``niqe={"min_samples": 64}``: one refresh of a 64-image batch
  (one 32x32 patch per gradient map) makes the pristine model ready, so the
  penalty is active (non-zero, with double backprop) from the very first D step.
- peak memory: each recipe runs in a fresh subprocess; its peak RSS (``VmHWM``, the
  per-process ``ru_maxrss``) after building models, data, optimizer and recipe is the
  baseline, the peak RSS after 3 D steps (the first one includes NIQE-GP's first
  pristine refresh) minus that baseline is the D update's peak memory. The allocator
  makes this vary by a few percent between identical runs, so every recipe is run in
  3 fresh subprocesses (round robin over recipes) and the median is reported;
  ratio to ``wgan_gp``.

Run: ``python benchmarks/bench_recipes.py [--reps 4] [--no-memory]``.
"""
import argparse
import copy
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from qagan_plugin import build_recipe  # noqa: E402
from qagan_plugin.regularizers import NIQEGradientPenalty  # noqa: E402
from qagan_plugin.models.resnet import build_resnet  # noqa: E402

RECIPES = ("wgan_gp", "qagan_ssim", "qagan_niqe", "bwgan_sobolev", "bwgan_lp")
RECIPE_KWARGS = {"qagan_niqe": {"niqe": {"min_samples": 64}}}
# time and peak-memory ratio to wgan_gp must be at most this
TARGETS = {"qagan_ssim": 1.05, "qagan_niqe": 1.25, "bwgan_sobolev": 1.10, "bwgan_lp": 1.10}
REFRESH_INTERVAL = 16


def real_batch(n: int = 64, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random ``size`` crops of colour ``skimage.data`` images halved in resolution, in [-1, 1]."""
    import skimage.data

    rng = np.random.default_rng(seed)
    images = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry"):
        img = torch.from_numpy(getattr(skimage.data, name)().astype(np.float32)).permute(2, 0, 1)[None]
        images.append(torch.nn.functional.avg_pool2d(img, 2)[0])
    crops = []
    for _ in range(n):
        img = images[rng.integers(len(images))]
        top = rng.integers(img.shape[1] - size + 1)
        left = rng.integers(img.shape[2] - size + 1)
        crops.append(img[:, top:top + size, left:left + size])
    return torch.stack(crops) / 127.5 - 1.0


def make_setup(batch: int = 64, img_size: int = 32, width: int = 128, seed: int = 0):
    """``(critic0, real, fake)``: the initial critic (to copy) and the fixed batches."""
    torch.manual_seed(seed)
    gen, critic = build_resnet(img_size, width)
    with torch.no_grad():
        fake = gen(torch.randn(batch, gen.z_dim)).detach()
    real = real_batch(batch, img_size, seed)
    return critic, real, fake


class Trainer:
    """One recipe's critic, optimizer and recipe object."""

    def __init__(self, name: str, critic0, real, fake):
        self.name = name
        self.critic = copy.deepcopy(critic0)
        self.opt = torch.optim.Adam(self.critic.parameters(), lr=2e-4, betas=(0.0, 0.9), eps=1e-8)
        self.recipe = build_recipe(name, **RECIPE_KWARGS.get(name, {}))
        self.real, self.fake = real, fake
        self.niqe = next((m for m in self.recipe.terms.values() if isinstance(m, NIQEGradientPenalty)), None)
        self.last_logs = {}

    def will_refresh(self) -> bool:
        return (self.niqe is not None and self.niqe.online
                and int(self.niqe.calls) % self.niqe.pristine_interval == 0)

    def step(self) -> float:
        t0 = time.perf_counter()
        d_real, d_fake = self.critic(self.real), self.critic(self.fake)
        loss, logs = self.recipe.discriminator_loss(self.critic, self.real, self.fake, d_real, d_fake)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        dt = time.perf_counter() - t0
        self.last_logs = {k: float(v) for k, v in logs.items()}
        return dt


def time_recipes(reps: int = 4, steps: int = 5, warmup: int = 2, batch: int = 64, verbose: bool = True):
    critic0, real, fake = make_setup(batch)
    trainers = {name: Trainer(name, critic0, real, fake) for name in RECIPES}
    per_rep = {name: [] for name in RECIPES}  # per-repetition step time (s), median of the timed steps
    means = {name: [] for name in RECIPES}  # the same with the mean
    niqe_parts = {"normal": [], "refresh": []}
    niqe_values = []
    for rep in range(reps):
        order = RECIPES[rep % len(RECIPES):] + RECIPES[:rep % len(RECIPES)]
        for name in order:
            tr = trainers[name]
            for _ in range(warmup):
                tr.step()
            if tr.niqe is not None:
                # schedule: the 3rd timed step is the pristine refresh (only the counter changes)
                calls = int(tr.niqe.calls)
                tr.niqe.calls.fill_(((calls + 2) // REFRESH_INTERVAL + 1) * REFRESH_INTERVAL - 2)
        times = {name: {"normal": [], "refresh": []} for name in RECIPES}
        for _ in range(steps):  # round robin: step i of every recipe, then step i + 1
            for name in order:
                tr = trainers[name]
                flag = tr.will_refresh()
                times[name]["refresh" if flag else "normal"].append(tr.step())
                if tr.niqe is not None:
                    niqe_values.append(tr.last_logs.get("niqe_gp", 0.0))
        for name in order:
            normal, refresh = times[name]["normal"], times[name]["refresh"]
            if trainers[name].niqe is not None:
                assert len(refresh) == 1, refresh
                k = REFRESH_INTERVAL
                per_rep[name].append(((k - 1) * statistics.median(normal) + refresh[0]) / k)
                means[name].append(((k - 1) * statistics.mean(normal) + refresh[0]) / k)
                niqe_parts["normal"].append(statistics.median(normal))
                niqe_parts["refresh"].append(refresh[0])
            else:
                per_rep[name].append(statistics.median(normal))
                means[name].append(statistics.mean(normal))
        if verbose:
            print(f"  rep {rep + 1}/{reps}: " + ", ".join(f"{name} {per_rep[name][-1] * 1e3:.0f}"
                                                         for name in RECIPES) + " ms/step", flush=True)
    if any(v <= 0 for v in niqe_values) and batch >= RECIPE_KWARGS["qagan_niqe"]["niqe"]["min_samples"]:
        raise RuntimeError(f"NIQE-GP was not active in some timed steps: {niqe_values}")
    results = {}
    for name in RECIPES:
        ratios = [t / b for t, b in zip(per_rep[name], per_rep["wgan_gp"])]
        results[name] = {"ms": 1e3 * statistics.median(per_rep[name]),
                         "ms_all": [1e3 * t for t in per_rep[name]],
                         "ms_mean_all": [1e3 * t for t in means[name]],
                         "ratio": statistics.median(ratios), "ratios": ratios}
    results["qagan_niqe"]["normal_ms"] = 1e3 * statistics.median(niqe_parts["normal"])
    results["qagan_niqe"]["refresh_ms"] = 1e3 * statistics.median(niqe_parts["refresh"])
    results["qagan_niqe"]["niqe_gp_values"] = niqe_values
    return results


# ------------------------------------------------------------------ peak memory
def _maxrss_mib() -> float:
    """Peak resident set size of this process so far, MiB.

    ``VmHWM`` of ``/proc/self/status``: unlike ``getrusage().ru_maxrss``, which Linux
    carries over from the parent across fork/exec (a child of a big parent would
    report the parent's peak), it belongs to this process's own address space.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def memory_child(name: str, steps: int, batch: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    critic0, real, fake = make_setup(batch)
    tr = Trainer(name, critic0, real, fake)
    del critic0
    base = _maxrss_mib()
    for _ in range(steps):
        tr.step()
    peak = _maxrss_mib()
    return {"name": name, "baseline_mib": base, "peak_mib": peak, "delta_mib": peak - base,
            "logs": tr.last_logs}


def measure_memory(steps: int = 3, batch: int = 64, threads: int = 2, runs: int = 3, verbose: bool = True) -> dict:
    """Median over ``runs`` fresh subprocesses per recipe (run round robin) of the peak-RSS increase."""
    raw = {name: [] for name in RECIPES}
    for _ in range(runs):
        for name in RECIPES:
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", name, "--mem-steps", str(steps),
                   "--batch", str(batch), "--threads", str(threads)]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            raw[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    out = {}
    for name in RECIPES:
        deltas = [r["delta_mib"] for r in raw[name]]
        out[name] = {"delta_mib": statistics.median(deltas), "deltas_mib": deltas,
                     "baseline_mib": statistics.median(r["baseline_mib"] for r in raw[name]),
                     "peak_mib": statistics.median(r["peak_mib"] for r in raw[name])}
        if verbose:
            print(f"  memory {name:14s} +{out[name]['delta_mib']:7.1f} MiB peak over baseline "
                  f"{out[name]['baseline_mib']:.1f} MiB (runs: {', '.join(f'{d:.0f}' for d in deltas)})", flush=True)
    for name in RECIPES:
        out[name]["ratio"] = out[name]["delta_mib"] / out["wgan_gp"]["delta_mib"]
    return out


# ------------------------------------------------------------------ report
def verdict(name: str, ratio: float) -> str:
    target = TARGETS.get(name)
    if target is None:
        return "(baseline)"
    return f"<= {target:.2f} {'PASS' if ratio <= target else 'FAIL'}"


def markdown(timing: dict, memory: dict = None) -> str:
    lines = ["| recipe | ms / D step (median) | time ratio to wgan_gp | target | "
             "peak memory over baseline (MiB) | memory ratio | target |",
             "|---|---:|---:|---|---:|---:|---|"]
    for name in RECIPES:
        t = timing[name]
        label = name + (" (amortized, 1 refresh / 16 steps)" if name == "qagan_niqe" else "")
        row = f"| {label} | {t['ms']:.0f} | {t['ratio']:.3f} | {verdict(name, t['ratio'])} |"
        if memory:
            m = memory[name]
            row += f" {m['delta_mib']:.0f} | {m['ratio']:.3f} | {verdict(name, m['ratio'])} |"
        else:
            row += " - | - | - |"
        lines.append(row)
    n = timing["qagan_niqe"]
    lines.append("")
    lines.append(f"- qagan_niqe parts (medians): normal step {n['normal_ms']:.0f} ms, pristine-refresh step "
                 f"{n['refresh_ms']:.0f} ms (amortized as (15 x normal + refresh) / 16).")
    if memory and "deltas_mib" in memory["wgan_gp"]:
        lines.append("- Peak-memory increase per fresh process (MiB, median reported): " + "; ".join(
            f"{name} " + ", ".join(f"{d:.0f}" for d in memory[name]["deltas_mib"]) for name in RECIPES) + ".")
    lines.append("- Per-repetition time ratios: " + "; ".join(
        f"{name} " + ", ".join(f"{r:.3f}" for r in timing[name]["ratios"]) for name in RECIPES[1:]) + ".")
    return "\n".join(lines)


def run(reps: int = 4, steps: int = 5, warmup: int = 2, batch: int = 64, threads: int = 2,
        memory: bool = True, verbose: bool = True):
    torch.set_num_threads(threads)
    if verbose:
        print(f"bench_recipes: ResNet critic 32x32, width 128, batch {batch}, {threads} threads, "
              f"{reps} reps x ({warmup} warm-up + {steps} timed) D steps per recipe", flush=True)
    timing = time_recipes(reps, steps, warmup, batch, verbose)
    mem = measure_memory(batch=batch, threads=threads, verbose=verbose) if memory else None
    return timing, mem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    ap.add_argument("--mem-steps", type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.mem_steps, args.batch, args.threads)))
        return
    timing, mem = run(args.reps, args.steps, args.warmup, args.batch, args.threads, not args.no_memory)
    print()
    print(markdown(timing, mem))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"timing": timing, "memory": mem}, fh, indent=1)


if __name__ == "__main__":
    main()
