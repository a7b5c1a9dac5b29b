"""The ``qagan-plugin`` command.

::

    qagan-plugin niqe [--json] IMAGE...          standard NIQE per image (MATLAB-compatible)
    qagan-plugin dq [--json] IMAGE_A IMAGE_B     SSIM and the paper-variant dQ (both poolings)
    qagan-plugin list                            registered recipes and regularizers
    qagan-plugin studiogan check|install|uninstall PATH
                                                 the StudioGAN patch series and configs in a StudioGAN tree

Every input is read and checked before anything is computed or printed, so an
error (missing file, unreadable image, image smaller than a patch or window,
shapes that differ) prints one line to stderr, exits with status 2 and writes
nothing to stdout.
"""
import argparse
import json
import os
import sys
from typing import Callable, Dict, List, Optional, Tuple

import torch


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def load_image(path: str) -> Tuple[torch.Tensor, float]:
    """Read an image file as ``(1, C, H, W)`` float64 (C = 1 or 3) and its data range.

    8-bit files (L, P, RGB, RGBA, CMYK, ...) give values in [0, 255] and range 255
    (alpha dropped, palettes expanded); 16-bit grey gives range 65535.
    """
    from PIL import Image, UnidentifiedImageError
    import numpy as np

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, expected an image file")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr, data_range = np.asarray(im, dtype=np.float64), 65535.0
            elif im.mode == "L":
                arr, data_range = np.asarray(im, dtype=np.float64), 255.0
            elif im.mode == "F":
                raise CLIError(f"{path}: floating-point images (mode F) have no defined data range; "
                               f"expected an 8-bit or 16-bit image")
            else:
                arr, data_range = np.asarray(im.convert("RGB"), dtype=np.float64), 255.0
    except CLIError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise CLIError(f"{path}: cannot read as an image ({exc.__class__.__name__}: {exc})") from None
    t = torch.from_numpy(arr)
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    return t.contiguous(), data_range


# ------------------------------------------------------------------ commands
def cmd_niqe(args) -> List[str]:
    from .functional.niqe import niqe

    images = []
    for path in args.images:
        img, data_range = load_image(path)
        h, w = img.shape[-2:]
        if h < args.patch_size or w < args.patch_size:
            raise CLIError(f"{path}: image is {h}x{w}, smaller than one {args.patch_size}x{args.patch_size} "
                           f"NIQE patch")
        images.append((path, img, data_range))
    scores = []
    for path, img, data_range in images:
        # MATLAB: rgb2gray on the uint8 image rounds to uint8 before NIQE
        score = niqe(img, data_range=data_range, patch_size=args.patch_size, quantize=True)
        scores.append((path, float(score[0])))
    if args.json:
        return [json.dumps([{"path": p, "niqe": s} for p, s in scores])]
    return [f"{p}\t{s:.6f}" for p, s in scores]


def cmd_dq(args) -> List[str]:
    from .functional.ssim import dq_distance, ssim

    (a, range_a), (b, range_b) = load_image(args.image_a), load_image(args.image_b)
    if a.shape != b.shape:
        raise CLIError(f"{args.image_a} and {args.image_b}: shapes differ, {tuple(a.shape[1:])} vs "
                       f"{tuple(b.shape[1:])} (channels, height, width)")
    if range_a != range_b:
        raise CLIError(f"{args.image_a} and {args.image_b}: bit depths differ (data ranges {range_a:g} and "
                       f"{range_b:g})")
    if min(a.shape[-2:]) < 11:
        raise CLIError(f"{args.image_a}: image is {a.shape[-2]}x{a.shape[-1]}, smaller than the 11x11 SSIM window")
    result = {
        "ssim": float(ssim(a, b, data_range=range_a)[0]),
        "dq_mean_sqrt": float(dq_distance(a, b, data_range=range_a, pooling="mean_sqrt")[0]),
        "dq_sqrt_mean": float(dq_distance(a, b, data_range=range_a, pooling="sqrt_mean")[0]),
    }
    if args.json:
        return [json.dumps(result)]
    return [f"{k}\t{v:.6f}" for k, v in result.items()]


def cmd_list(args) -> List[str]:
    from .recipes import RECIPE_SUMMARIES
    from .registry import RECIPES, REGULARIZERS

    lines = ["recipes:"]
    for name in RECIPES.available():
        doc = (RECIPES.get(name).__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<15} {RECIPE_SUMMARIES.get(name) or (doc[0] if doc else '')}")
    lines.append("regularizers:")
    for name in REGULARIZERS.available():
        doc = (REGULARIZERS.get(name).__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<15} {doc[0] if doc else ''}")
    return lines


def cmd_demo(args) -> List[str]:
    from .demo import DemoConfig, train
    from .registry import RECIPES

    if args.recipe not in RECIPES:
        raise CLIError(f"--recipe: unknown recipe {args.recipe!r}; available: {', '.join(RECIPES.available())}")
    if args.steps < 1:
        raise CLIError(f"--steps: expected an int >= 1, got {args.steps}")
    if args.size not in (32, 48, 64):
        raise CLIError(f"--size: expected 32, 48 or 64 (the ResNet layouts), got {args.size}")
    cfg = DemoConfig(recipe=args.recipe, steps=args.steps, size=args.size, seed=args.seed)
    metrics = train(cfg, args.out, progress=not args.quiet)
    keys = ("swd_mean", "niqe_samples", "niqe_real", "dq_diversity_samples", "dq_diversity_real", "train_seconds")
    return [f"{k}\t{metrics[k]:.4f}" for k in keys] + [f"outputs in {args.out}/ (report.md, metrics.json, PNGs)"]


def cmd_data(args) -> List[str]:
    from .data.natural import export_image_folder

    if args.n < 1:
        raise CLIError(f"--n: expected an int >= 1, got {args.n}")
    try:
        folders = export_image_folder(args.dir, n=args.n, size=args.size, seed=args.seed)
    except FileExistsError as exc:
        raise CLIError(str(exc)) from None
    return [f"{f}\t{len(os.listdir(f))} images" for f in folders]


def cmd_fit_pristine(args) -> List[str]:
    from .fit_pristine import run

    result = run(args.discriminator, args.data, args.out, max_images=args.max_images, backbone=args.backbone,
                 img_size=args.img_size, progress=not args.quiet, channel_reduction=args.channel_reduction)
    return [f"{result['out']}\t{result['feature_vectors']} feature vectors from {result['images']} images"]


def cmd_inspect(args) -> List[str]:
    from .inspection import make_figure

    used = make_figure(args.image, args.out, args.discriminator, args.size)
    return [f"{args.out}\tfigure of {args.image} with the critic of {used}"]


def cmd_studiogan(args) -> List[str]:
    from .integrations.studiogan import installer

    try:
        if args.action == "check":
            return installer.check_lines(args.path)
        if args.action == "install":
            return installer.install(args.path)
        return installer.uninstall(args.path, force=args.force)
    except installer.InstallerError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:  # e.g. permission denied; install/uninstall have rolled back
        raise CLIError(f"{exc.__class__.__name__}: {exc}") from None


COMMANDS: Dict[str, Tuple[Callable, str]] = {
    "niqe": (cmd_niqe, "standard NIQE of image files (lower is more natural)"),
    "dq": (cmd_dq, "SSIM and the SSIM-derived distance dQ of two image files"),
    "list": (cmd_list, "the registered recipes and regularizers"),
    "demo": (cmd_demo, "train a small GAN on the embedded natural patches and write samples, curves, metrics"),
    "fit-pristine": (cmd_fit_pristine, "fit the NIQE-GP pristine model from a critic checkpoint over real images"),
    "inspect": (cmd_inspect, "figure: image, MSCN, spatial and critic gradients, MSCN histograms, with distortions"),
    "data": (cmd_data, "export the embedded natural patches as an image folder (train/ and valid/)"),
    "studiogan": (cmd_studiogan, "check, install or uninstall our patch series and configs in a StudioGAN tree"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="qagan-plugin", description="Quality-aware GAN regularizers and metrics.")
    parser.add_argument("--version", action="version", version=f"qagan-plugin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("niqe", help=COMMANDS["niqe"][1], description=COMMANDS["niqe"][1])
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="print a JSON list of {path, niqe}")
    p.add_argument("--patch-size", type=int, default=96, help="NIQE patch size (default 96, the MATLAB model's)")
    p = sub.add_parser("dq", help=COMMANDS["dq"][1], description=COMMANDS["dq"][1])
    p.add_argument("image_a", metavar="IMAGE_A")
    p.add_argument("image_b", metavar="IMAGE_B")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    sub.add_parser("list", help=COMMANDS["list"][1], description=COMMANDS["list"][1])
    p = sub.add_parser("demo", help=COMMANDS["demo"][1], description=COMMANDS["demo"][1])
    p.add_argument("--recipe", default="qagan_niqe", help="recipe name (default qagan_niqe; see `list`)")
    p.add_argument("--steps", type=int, default=200, help="generator steps (5 critic steps each; default 200)")
    p.add_argument("--size", type=int, default=32, help="image size: 32, 48 or 64 (default 32)")
    p.add_argument("--out", default="demo_out", help="output folder; re-running with it resumes (default demo_out)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("fit-pristine", help=COMMANDS["fit-pristine"][1], description=COMMANDS["fit-pristine"][1])
    p.add_argument("--discriminator", required=True, metavar="CKPT",
                   help="a `qagan-plugin demo` checkpoint, or a critic state dict with --backbone/--img-size")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of real images (searched recursively)")
    p.add_argument("--out", required=True, metavar="FILE", help="output .npz (name it as the NIQE-GP pristine)")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--backbone", default=None, help="for a plain state dict: resnet")
    p.add_argument("--img-size", type=int, default=None, help="for a plain state dict: 32, 48 or 64")
    p.add_argument("--channel-reduction", default="luma", choices=("luma", "magnitude"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser("inspect", help=COMMANDS["inspect"][1], description=COMMANDS["inspect"][1])
    p.add_argument("--image", required=True, metavar="IMG")
    p.add_argument("--discriminator", default=None, metavar="CKPT", help="default: demo_out/checkpoint.pt")
    p.add_argument("--out", required=True, metavar="FIG.png")
    p.add_argument("--size", type=int, default=128, help="side the image is resized to (default 128)")
    p = sub.add_parser("data", help=COMMANDS["data"][1], description=COMMANDS["data"][1])
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    e = data_sub.add_parser("export", help="write DIR/train/natural/*.png and DIR/valid/natural/*.png")
    e.add_argument("dir", metavar="DIR")
    e.add_argument("--size", type=int, default=32)
    e.add_argument("--n", type=int, default=2000, help="training images (valid gets n/5)")
    e.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("studiogan", help=COMMANDS["studiogan"][1], description=COMMANDS["studiogan"][1])
    sg_sub = p.add_subparsers(dest="action", metavar="ACTION")
    sg_sub.required = True
    for action, text in (("check", "which patches are applied and which configs are installed (changes nothing)"),
                         ("install", "apply the missing patches and copy the configs, all or nothing"),
                         ("uninstall", "restore every file install changed and remove what it created")):
        a = sg_sub.add_parser(action, help=text, description=text)
        a.add_argument("path", metavar="PATH", help="a PyTorch-StudioGAN checkout (commit 947b35e)")
        if action == "uninstall":
            a.add_argument("--force", action="store_true", help="restore files even if they changed after install")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command][0]
    try:
        lines = handler(args)
    except (CLIError, ValueError, TypeError, FileNotFoundError, KeyError) as exc:
        print(f"qagan-plugin {args.command}: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
