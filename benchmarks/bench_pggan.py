"""Per-step time of the PGGAN backbone at 256x256 (CPU, batch 4) with each recipe.

    python benchmarks/bench_pggan.py [--size 256] [--batch 4] [--warmup 2] [--rounds 8]

One training step = a D step (D on real and fake, the recipe's penalties, backward, Adam) plus a G
step, at full resolution (lod 0, all 7 levels active) with the paper's feature maps (8192/512).
QAGAN recipes keep PGGAN's base loss (l2 GP 10, drift 1e-3) and add their term with weight 0.1,
as the generated PGGAN configs; NIQE-GP's pristine model is refreshed every 16 D steps and
active from the first refresh (min_samples 64: 4 images x 64 patches of 32 px per refresh).

Drift control: this CPU's speed wanders by up to 30 % over minutes (the same baseline step took
26 s and then 19 s in two consecutive sequential runs), so the three recipes are trained side by
side in one process, one step each per round, in a rotating order, and each ratio is the median
over rounds of (recipe step / baseline step of the same round).

A refresh (gradient maps at the real images, their NIQE features, the pooled MVG) happens once
per 16 D steps; timing 16+ rounds at this size takes too long on a CPU, so in the last round
`qagan_niqe`'s step is made a refresh step (its call counter is set to a multiple of the interval)
and its cost is amortized: ratio = median(ordinary ratios) + (refresh ratio - that) / interval.
"""
import argparse
import os
import statistics
import sys
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from qagan_plugin import build_recipe  # noqa: E402
from qagan_plugin.models import pggan  # noqa: E402
from qagan_plugin.regularizers import NIQEGradientPenalty  # noqa: E402

BASELINE = "pggan_wgan_gp"
RECIPES = {
    BASELINE: {},
    "qagan_ssim": {"gp_lambda": 10.0, "drift_lambda": 1e-3, "qa_lambda": 0.1},
    "qagan_niqe": {"gp_lambda": 10.0, "drift_lambda": 1e-3, "qa_lambda": 0.1, "niqe": {"min_samples": 64}},
}


def build(size):
    MODEL = types.SimpleNamespace(**pggan.config_defaults["MODEL"])
    common = dict(apply_attn=False, num_classes=1, mixed_precision=False, MODULES=None, MODEL=MODEL)
    G = pggan.Generator(z_dim=512, g_shared_dim=None, img_size=size, g_conv_dim=None, attn_g_loc=None,
                        g_cond_mtd="W/O", g_init=None, g_depth=None, **common)
    D = pggan.Discriminator(img_size=size, d_conv_dim=None, apply_d_sn=False, attn_d_loc=None, d_cond_mtd="W/O",
                            aux_cls_type="W/O", d_embed_dim=None, normalize_d_embed=False, d_init=None, d_depth=None,
                            **common)
    return G, D


class Trainer:
    """One recipe's G, D, optimizers and fixed real batch; ``step()`` returns its wall seconds."""

    def __init__(self, name, overrides, size, batch):
        torch.manual_seed(0)
        self.G, self.D = build(size)
        self.opt_g = torch.optim.Adam(self.G.parameters(), 1e-3, betas=(0.0, 0.99))
        self.opt_d = torch.optim.Adam(self.D.parameters(), 1e-3, betas=(0.0, 0.99))
        self.recipe = build_recipe(name, **overrides)
        self.niqe_terms = [m for m in self.recipe.modules() if isinstance(m, NIQEGradientPenalty)]
        self.real = torch.rand(batch, 3, size, size) * 2 - 1
        self.batch = batch

    def critic(self, x):
        return self.D(x)["adv_output"]

    def force_refresh(self):
        for term in self.niqe_terms:  # the next penalty call refreshes the pristine model
            term.calls.fill_(term.pristine_interval * (int(term.calls) // term.pristine_interval + 1))

    def step(self):
        t = time.perf_counter()
        with torch.no_grad():
            fake = self.G(torch.randn(self.batch, 512))
        loss, _ = self.recipe.discriminator_loss(self.critic, self.real, fake, self.critic(self.real),
                                                 self.critic(fake))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        g_loss, _ = self.recipe.generator_loss(self.critic(self.G(torch.randn(self.batch, 512))))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rounds", type=int, default=8, help="timed rounds (one step of every recipe each)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first (the first pristine refresh)")
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    start = time.time()
    trainers = {name: Trainer(name, overrides, args.size, args.batch) for name, overrides in RECIPES.items()}
    names = list(trainers)
    times = {name: [] for name in names}
    refresh = {}
    for r in range(args.warmup + args.rounds):
        last = r == args.warmup + args.rounds - 1
        order = names[r % len(names):] + names[:r % len(names)]  # rotate, so no recipe always runs first
        seconds = {}
        for name in order:
            trainer = trainers[name]
            if last and trainer.niqe_terms:
                trainer.force_refresh()
            seconds[name] = trainer.step()
        print(f"  round {r}{' (warm-up)' if r < args.warmup else ''}: "
              + " ".join(f"{n} {seconds[n]:.2f}" for n in names), file=sys.stderr, flush=True)
        if r < args.warmup:
            continue
        for name in names:
            if last and trainers[name].niqe_terms:
                refresh[name] = (seconds[name] / seconds[BASELINE], trainers[name].niqe_terms[0].pristine_interval)
            else:
                times[name].append((seconds[name], seconds[name] / seconds[BASELINE]))
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores, torch "
          f"{torch.__version__}, command `python benchmarks/bench_pggan.py {' '.join(argv or sys.argv[1:])}`, "
          f"{time.time() - start:.0f} s in all.\n")
    print(f"| recipe (PGGAN {args.size}x{args.size}, lod 0, batch {args.batch}, D+G step) | s / step (median) | "
          f"ratio to {BASELINE} (median of same-round ratios) | per-round ratios |")
    print("|---|---:|---:|---|")
    for name in names:
        ratios = [ratio for _, ratio in times[name]]
        ratio = statistics.median(ratios)
        cells = " ".join(f"{x:.3f}" for x in ratios)
        if name in refresh:
            refresh_ratio, interval = refresh[name]
            ratio += (refresh_ratio - ratio) / interval
            cells += f"; refresh step {refresh_ratio:.3f}, amortized over {interval}"
        print(f"| `{name}` | {statistics.median(t for t, _ in times[name]):.2f} | {ratio:.3f} | {cells} |")


if __name__ == "__main__":
    main()
