"""``qagan-plugin demo``: a small GAN trained on the embedded natural patches.

The loop below is also the reference example of using the regularizers in
plain PyTorch: build a recipe, hand it D, the real and fake batch and their
logits, back-propagate what it returns.

Outputs in ``--out DIR``: ``samples_<step>.png`` every ``sample_every``
generator steps, ``losses.png`` (each penalty term), ``metrics.json``,
``report.md`` and ``checkpoint.pt`` (written atomically; re-running with the
same DIR resumes from it, with the same random stream as an uninterrupted run).
"""
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List

import torch

from .data.natural import natural_patches
from .models.resnet import build_resnet
from .recipes import build_recipe


@dataclass
class DemoConfig:
    recipe: str = "qagan_niqe"
    steps: int = 200              # generator steps
    size: int = 32
    seed: int = 0
    width: int = 48               # channels of the ResNet blocks (the paper's 128, reduced for CPUs)
    batch: int = 32
    n_critic: int = 5
    lr: float = 2e-4              # Adam(2e-4, 0, 0.9) with linear decay, as the QAGAN/BWGAN scripts
    z_dim: int = 128
    train_patches: int = 8192
    eval_samples: int = 512
    sample_every: int = 50
    checkpoint_every: int = 25
    recipe_overrides: Dict = field(default_factory=dict)


def _atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


@torch.no_grad()
def generate(G, n: int, z_dim: int, generator: torch.Generator, batch: int = 256) -> torch.Tensor:
    """Samples with batch statistics (as the authors' dumps), leaving G's BN buffers untouched."""
    buffers = {k: v.clone() for k, v in G.named_buffers()}
    out = [G(torch.randn(min(batch, n - i), z_dim, generator=generator)) for i in range(0, n, batch)]
    for k, v in G.named_buffers():
        v.copy_(buffers[k])
    return torch.cat(out)


def _save_grid(images: torch.Tensor, path: str, nrow: int = 8) -> None:
    from torchvision.utils import save_image

    save_image(images * 0.5 + 0.5, path, nrow=nrow, padding=1)


def _plot_losses(history: List[Dict[str, float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for h in history for k in h if k != "step"})
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 1.8 * len(keys)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        pts = [(h["step"], h[key]) for h in history if key in h]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
        ax.set_ylabel(key, rotation=0, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("generator step")
    fig.suptitle("critic and generator terms (unweighted)")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def evaluate(G, cfg: DemoConfig, held_out: torch.Tensor) -> Dict[str, float]:
    """SWD, set NIQE and dQ diversity of samples, with the held-out patches as reference."""
    from .metrics import dq_diversity, set_niqe, sliced_wasserstein_distance

    samples = generate(G, held_out.shape[0], cfg.z_dim, torch.Generator().manual_seed(cfg.seed + 1))
    swd = sliced_wasserstein_distance(held_out, samples, seed=cfg.seed)
    # the floor: SWD between held-out patches and as many training patches
    real_ref = natural_patches(held_out.shape[0], cfg.size, cfg.seed + 7, "train")
    swd["swd_mean_real_reference"] = sliced_wasserstein_distance(held_out, real_ref, seed=cfg.seed)["swd_mean"]
    return {**swd, "niqe_samples": set_niqe(samples), "niqe_real": set_niqe(held_out),
            "dq_diversity_samples": dq_diversity(samples), "dq_diversity_real": dq_diversity(held_out)}


def train(cfg: DemoConfig, out: str, progress: bool = True) -> Dict[str, float]:
    """Train (or resume) and write the outputs; returns the metrics."""
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)
    torch.manual_seed(cfg.seed)
    data = natural_patches(cfg.train_patches, cfg.size, cfg.seed, "train")
    held_out = natural_patches(cfg.eval_samples, cfg.size, cfg.seed, "valid")
    G, D = build_resnet(cfg.size, cfg.width, cfg.z_dim)
    recipe = build_recipe(cfg.recipe, **cfg.recipe_overrides)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.0, 0.9))
    decay = lambda step: max(0.0, 1.0 - step / cfg.steps)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, decay)
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, decay)
    start, history, elapsed = 0, [], 0.0

    ckpt_path = os.path.join(out, "checkpoint.pt")
    if os.path.exists(ckpt_path):
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt["config"]["recipe"] != cfg.recipe or ckpt["config"]["size"] != cfg.size:
            raise ValueError(f"{ckpt_path}: was written by recipe {ckpt['config']['recipe']!r} at size "
                             f"{ckpt['config']['size']}; use another --out or the same settings")
        for obj, key in ((G, "G"), (D, "D"), (recipe, "recipe"), (opt_g, "opt_g"), (opt_d, "opt_d"),
                         (sched_g, "sched_g"), (sched_d, "sched_d")):
            obj.load_state_dict(ckpt[key])
        start, history, elapsed = ckpt["step"], ckpt["history"], ckpt["elapsed"]

    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"demo {cfg.recipe}",
               disable=not progress, dynamic_ncols=True)
    t0 = time.time()
    for step in bar:
        # one RNG stream per generator step: a resumed run draws exactly what an uninterrupted one would
        rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        sums: Dict[str, float] = {}
        for _ in range(cfg.n_critic):
            real = data[torch.randint(0, data.shape[0], (cfg.batch,), generator=rng)]
            with torch.no_grad():
                fake = G(torch.randn(cfg.batch, cfg.z_dim, generator=rng))
            loss, logs = recipe.discriminator_loss(D, real, fake, D(real), D(fake), generator=rng)
            opt_d.zero_grad(set_to_none=True)
            loss.backward()
            opt_d.step()
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v) / cfg.n_critic
        g_loss, _ = recipe.generator_loss(D(G(torch.randn(2 * cfg.batch, cfg.z_dim, generator=rng))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        sched_g.step()
        sched_d.step()
        history.append({"step": step + 1, "generator": g_loss.item(), **sums})
        bar.set_postfix(W=f"{sums['wasserstein']:.3f}", **{k: f"{v:.3g}" for k, v in sums.items()
                                                           if k not in ("wasserstein", "drift")})
        done = step + 1
        if done % cfg.sample_every == 0 or done == cfg.steps:
            _save_grid(generate(G, 64, cfg.z_dim, torch.Generator().manual_seed(cfg.seed)),
                       os.path.join(out, f"samples_{done:05d}.png"))
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _atomic_save({"G": G.state_dict(), "D": D.state_dict(), "recipe": recipe.state_dict(),
                          "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                          "sched_g": sched_g.state_dict(), "sched_d": sched_d.state_dict(), "step": done,
                          "history": history, "elapsed": elapsed + time.time() - t0, "config": asdict(cfg),
                          "backbone": {"name": "resnet", "img_size": cfg.size, "width": cfg.width}},
                         ckpt_path)
    elapsed += time.time() - t0
    bar.close()

    metrics = evaluate(G, cfg, held_out)
    metrics.update({"recipe": cfg.recipe, "generator_steps": cfg.steps, "discriminator_steps": cfg.steps * cfg.n_critic,
                    "train_seconds": round(elapsed, 1)})
    with open(os.path.join(out, "metrics.json.tmp"), "w") as fh:
        json.dump(metrics, fh, indent=2)
    os.replace(os.path.join(out, "metrics.json.tmp"), os.path.join(out, "metrics.json"))
    _save_grid(held_out[:64], os.path.join(out, "real_patches.png"))
    _plot_losses(history, os.path.join(out, "losses.png"))
    _write_report(cfg, metrics, history, out)
    return metrics


def _write_report(cfg: DemoConfig, metrics: Dict, history: List[Dict], out: str) -> None:
    last = sorted(f for f in os.listdir(out) if f.startswith("samples_"))[-1]
    tail = history[-min(20, len(history)):]
    mean_tail = {k: sum(h[k] for h in tail if k in h) / max(1, sum(k in h for h in tail))
                 for k in tail[-1] if k != "step"}
    lines = [
        f"# qagan-plugin demo: `{cfg.recipe}`", "",
        f"ResNet pair (methods-spec 2.4, width {cfg.width}) at {cfg.size}x{cfg.size} on the embedded natural "
        f"patches; {cfg.steps} generator steps x {cfg.n_critic} critic steps, batch {cfg.batch}, "
        f"Adam(2e-4, 0, 0.9) with linear decay, seed {cfg.seed}; {metrics['train_seconds']} s of training.", "",
        "| metric | samples | real patches (reference) |", "|---|---|---|",
        f"| SWD x1e3 to held-out patches (mean over levels; lower is better) | {metrics['swd_mean']:.1f} | "
        f"{metrics['swd_mean_real_reference']:.1f} (training patches) |",
        f"| set NIQE (lower is more natural) | {metrics['niqe_samples']:.3f} | {metrics['niqe_real']:.3f} |",
        f"| dQ diversity (mean pairwise dQ) | {metrics['dq_diversity_samples']:.3f} | "
        f"{metrics['dq_diversity_real']:.3f} |", "",
        "Terms averaged over the last generator steps (unweighted): " +
        ", ".join(f"{k} {v:.4g}" for k, v in mean_tail.items()), "",
        f"![samples]({last}) ![real](real_patches.png)", "", "![losses](losses.png)", "",
        "SWD: Karras et al. 2018 (Laplacian-pyramid 7x7 patches); set NIQE: NIQE distance of the samples' "
        "features (one 32-px patch per image) to the standard natural-scene model; dQ diversity: mean "
        "paper-variant dQ of random sample pairs. A short CPU run shows the mechanics, not final quality.",
    ]
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
