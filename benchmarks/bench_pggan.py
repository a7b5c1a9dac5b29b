"""Per-step time of the PGGAN backbone at 256x256 (CPU, batch 4) with each recipe.

    python benchmarks/bench_pggan.py [--size 256] [--batch 4] [--steps 6]

One training step = a D step (D on real and fake, the recipe's penalties, backward, Adam) plus a G
step, at full resolution (lod 0, all 7 levels active) with the paper's feature maps (8192/512).
QAGAN recipes keep PGGAN's base loss (l2 GP 10, drift 1e-3) and add their term with weight 0.1,
as the generated PGGAN configs; NIQE-GP's pristine model is refreshed every 16 D steps and
active from the first refresh (min_samples 64: 4 images x 64 patches of 32 px per refresh).
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

RECIPES = {
    "pggan_wgan_gp": {},
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


def time_recipe(name, overrides, size, batch, steps, warmup=2):
    torch.manual_seed(0)
    G, D = build(size)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.99))
    recipe = build_recipe(name, **overrides)
    real = torch.rand(batch, 3, size, size) * 2 - 1
    critic = lambda x: D(x)["adv_output"]
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        with torch.no_grad():
            fake = G(torch.randn(batch, 512))
        loss, _ = recipe.discriminator_loss(critic, real, fake, critic(real), critic(fake))
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        g_loss, _ = recipe.generator_loss(critic(G(torch.randn(batch, 512))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    start = time.time()
    times = {name: [] for name in RECIPES}
    for _ in range(args.repeats):  # interleaved, to cancel drift
        for name, overrides in RECIPES.items():
            times[name] += time_recipe(name, overrides, args.size, args.batch, args.steps)
    base = statistics.median(times["pggan_wgan_gp"])
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPU cores, torch "
          f"{torch.__version__}, command `python benchmarks/bench_pggan.py {' '.join(argv or sys.argv[1:])}`, "
          f"{time.time() - start:.0f} s in all.\n")
    print(f"| recipe (PGGAN {args.size}x{args.size}, lod 0, batch {args.batch}, D+G step) | s / step (median) | "
          f"ratio to pggan_wgan_gp |")
    print("|---|---:|---:|")
    for name in RECIPES:
        t = statistics.median(times[name])
        print(f"| `{name}` | {t:.2f} | {t / base:.3f} |")


if __name__ == "__main__":
    main()
