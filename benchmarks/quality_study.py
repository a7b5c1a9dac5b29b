"""Quality study: does a quality-aware penalty help on natural patches?

Equal discriminator steps for every recipe, several seeds each, the demo's ResNet pair on the
embedded natural patches (32x32); SWD to held-out patches and the set NIQE of samples (mean and
spread over seeds), and wall time. Prints a markdown table, writes a plot, and replaces the
"Quality study" section of benchmarks/RESULTS.md.

    python benchmarks/quality_study.py                       # defaults: < 1 h on 2 CPU cores
    python benchmarks/quality_study.py --steps 2000 --width 128 --batch 64 --seeds 0 1 2 3 4   # scale up

Runs are resumable: a run whose metrics.json exists is read, not retrained.
"""
import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from qagan_plugin.demo import DemoConfig, train  # noqa: E402

BEGIN, END = "<!-- quality-study:begin -->", "<!-- quality-study:end -->"


def run_all(args):
    rows = {}
    for recipe in args.recipes:
        for seed in args.seeds:
            out = os.path.join(args.out, f"{recipe}-seed{seed}")
            path = os.path.join(out, "metrics.json")
            if not os.path.exists(path):
                cfg = DemoConfig(recipe=recipe, steps=args.steps, size=32, seed=seed, width=args.width,
                                 batch=args.batch, n_critic=args.n_critic, eval_samples=args.eval_samples,
                                 sample_every=args.steps, checkpoint_every=max(1, args.steps // 4))
                t = time.time()
                train(cfg, out, progress=args.progress)
                print(f"{recipe} seed {seed}: {time.time() - t:.0f} s", flush=True)
            with open(path) as fh:
                rows.setdefault(recipe, []).append(json.load(fh))
    return rows


def summarise(rows):
    def ms(values):
        return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    table = []
    for recipe, runs in rows.items():
        table.append({
            "recipe": recipe, "runs": len(runs),
            "swd": ms([r["swd_mean"] for r in runs]),
            "niqe": ms([r["niqe_samples"] for r in runs]),
            "diversity": ms([r["dq_diversity_samples"] for r in runs]),
            "seconds": ms([r["train_seconds"] for r in runs]),
            "niqe_real": statistics.mean(r["niqe_real"] for r in runs),
            "swd_real": statistics.mean(r["swd_mean_real_reference"] for r in runs),
        })
    return table


def markdown(table, args):
    lines = ["| recipe | seeds | SWD x1e3 (lower better) | sample NIQE (lower better) | dQ diversity | train s/run |",
             "|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| `{t['recipe']}` | {t['runs']} | {t['swd'][0]:.1f} ± {t['swd'][1]:.1f} | "
                     f"{t['niqe'][0]:.2f} ± {t['niqe'][1]:.2f} | {t['diversity'][0]:.3f} ± {t['diversity'][1]:.3f} | "
                     f"{t['seconds'][0]:.0f} |")
    ref = table[0]
    lines.append(f"| real patches (reference) | - | {ref['swd_real']:.1f} | {ref['niqe_real']:.2f} | - | - |")
    lines.append("")
    lines.append(f"Settings: {args.steps} generator steps x {args.n_critic} critic steps "
                 f"({args.steps * args.n_critic} D steps for every recipe), batch {args.batch}, ResNet width "
                 f"{args.width}, Adam(2e-4, 0, 0.9) with linear decay, 32x32 natural patches, "
                 f"{args.eval_samples} samples against as many held-out patches; ± is the standard deviation "
                 f"over seeds {args.seeds}.")
    return "\n".join(lines)


def plot(table, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    names = [t["recipe"] for t in table]
    for ax, key, label in ((axes[0], "swd", "SWD x1e3"), (axes[1], "niqe", "sample NIQE")):
        ax.bar(names, [t[key][0] for t in table], yerr=[t[key][1] for t in table], capsize=4,
               color=["#888888"] + ["#3b75af"] * (len(table) - 1))
        ax.set_title(f"{label} (lower is better)")
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def update_results(text: str, path: str):
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    section = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + section + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n## Quality study (issue: main job)\n\n" + section + "\n"
    with open(path, "w") as fh:
        fh.write(new)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", nargs="+", default=["wgan_gp", "qagan_ssim", "qagan_niqe", "bwgan_sobolev"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=120, help="generator steps per run (default 120)")
    p.add_argument("--n-critic", type=int, default=5)
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--eval-samples", type=int, default=512)
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "quality_study_runs"))
    p.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "RESULTS.md"))
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    start = time.time()
    table = summarise(run_all(args))
    text = markdown(table, args)
    fig = os.path.join(ROOT, "benchmarks", "quality_study.png")
    plot(table, fig)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cmd = "python benchmarks/quality_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    full = (f"Measured {stamp} on {os.cpu_count()} CPU cores, torch {torch.__version__}; command: `{cmd.strip()}`; "
            f"total wall time {time.time() - start:.0f} s.\n\n{text}\n\n![quality study](quality_study.png)")
    update_results(full, args.results)
    print(full)


if __name__ == "__main__":
    main()
