"""The course on a real GPU, in one command: the CuPy tests and the GPU benchmarks.

Run ``python3 quickstart.py gpu-check`` (or this script with the course's
Python) on a machine with an NVIDIA GPU. It

1. checks that a CUDA device answers (``nvidia-smi``), and stops with a clear
   message and a non-zero status where none does;
2. installs the ``gpu`` and ``bench`` extras (CuPy, PyTorch, gensim);
3. runs every test case of the suite that is parametrized on CuPy;
4. times the language models ``rnnlm``, ``better`` and ``medium`` against
   PyTorch on the GPU (tokens per second), trains the first epochs of the
   ``medium`` preset and prints their perplexity, and times seq2seq and
   attention epochs on CuPy;

and ends with a summary of every step, its status and its time. The whole
check is sized to finish within about 10 minutes on one GPU; ``--quick``
trims the benchmarks further. Needs the PTB files (``COURSE_DATA_DIR``) for
the language models.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cuda_device() -> str | None:
    """The GPUs ``nvidia-smi -L`` lists, or None where no CUDA device answers."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    listed = proc.stdout.strip()
    return listed if proc.returncode == 0 and listed.startswith("GPU") else None


def steps(python: str, quick: bool) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, command, extra environment) of each step after the install."""
    rounds = "2" if quick else "4"
    lm = [python, "benchmarks/language_model.py", "--device", "cuda"]
    cupy = {"COURSE_BACKEND": "cupy"}
    return [
        ("CuPy test cases", [python, "-m", "pytest", "-q", "-k", "cupy", "-p", "no:cacheprovider"], {}),
        ("LM tokens/s vs PyTorch", [*lm, "--configs", "rnnlm", "better", "medium", "--rounds", rounds], {}),
        (
            "medium preset, first epochs",
            [*lm, "--train", "medium", "--epochs", "1" if quick else "2"]
            + (["--limit", "200000"] if quick else []),
            {},
        ),
        (
            "seq2seq and attention epochs",
            [python, "benchmarks/seq2seq.py", "--task", "dates", "--epochs", "1"],
            cupy,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a shorter training run")
    parser.add_argument("--no-install", action="store_true", help="skip installing the gpu and bench extras")
    args = parser.parse_args(argv)

    gpus = cuda_device()
    if gpus is None:
        print(
            "gpu-check: no CUDA device here (nvidia-smi is missing or lists no GPU), so there is nothing "
            "to check. Run it on a machine with an NVIDIA GPU and its driver; on this machine the strict "
            "backend checks CuPy's rules instead: python3 quickstart.py test -k strict",
            file=sys.stderr,
        )
        return 1
    print(f"gpu-check on: {gpus}", flush=True)
    sys.path.insert(0, str(ROOT))
    import quickstart

    python = str(quickstart._python() if args.no_install else quickstart.setup("dev,gpu,bench"))
    summary = []
    for name, command, extra in steps(python, args.quick):
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command, cwd=ROOT, env={**os.environ, **extra})
        summary.append((name, code, time.perf_counter() - start))
    print("\ngpu-check summary")
    for name, code, seconds in summary:
        print(f"  {'ok    ' if code == 0 else 'FAILED'}  {name:32s} {seconds:7.0f} s")
    return 0 if all(code == 0 for _, code, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
