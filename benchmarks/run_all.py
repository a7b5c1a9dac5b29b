"""Run both benchmarks and print the markdown tables (about 6-8 minutes on 2 CPU cores).

    python benchmarks/run_all.py [--threads 2] [--reps 4] [--out report.md] [--json raw.json]

Timings are sensitive to other load on the machine: the 1-minute load average
is printed before and after; run it on an otherwise idle machine.
"""
import argparse
import datetime
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import torch  # noqa: E402

import bench_metrics  # noqa: E402
import bench_recipes  # noqa: E402


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load1() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=4, help="repetitions of the recipe benchmark")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--json", help="also write the raw results to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.time()
    load_before = load1()
    header = [
        f"- date (UTC): {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}; torch.set_num_threads({args.threads})",
        f"- torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.machine()}",
        f"- command: python benchmarks/run_all.py" + (f" --reps {args.reps}" if args.reps != 4 else ""),
    ]
    print("\n".join(header), flush=True)
    metrics_ssim, metrics_niqe = bench_metrics.run(threads=args.threads)
    timing, memory = bench_recipes.run(reps=args.reps, threads=args.threads, memory=not args.no_memory)
    elapsed = time.time() - t0
    header.append(f"- 1-minute load average: {load_before} before, {load1()} after; total run time {elapsed:.0f} s")
    report = "\n".join(
        ["## Environment", ""] + header
        + ["", "## Metrics", "", bench_metrics.markdown(metrics_ssim, metrics_niqe),
           "", "## One discriminator update per recipe (ResNet critic, 32x32, batch 64, float32)", "",
           bench_recipes.markdown(timing, memory), ""])
    print()
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"ssim": metrics_ssim, "niqe": metrics_niqe, "timing": timing, "memory": memory}, fh,
                      indent=1)


if __name__ == "__main__":
    main()
