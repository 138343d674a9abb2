"""Recurrent language models on Penn Treebank: our NumPy models against PyTorch on the CPU.

Speed (default): training tokens per second of

* ``rnnlm``  - the book's Rnnlm: embedding 100, one LSTM of 100 units;
* ``better`` - BetterRnnlm: embedding 650, two LSTMs of 650 units, dropout 0.5,
  embedding tied to the output weight;
* ``small`` (``--configs small``) - the 2x200 "small" PTB configuration, 20 steps;

each next to an equivalent PyTorch model (nn.Embedding + nn.LSTM + nn.Linear,
same sizes, dropout and tying) trained on the same PTB batches (batch 20,
35 steps unless noted, mean loss, gradient clipping, plain SGD). The two alternate in
rounds within one run, so a busy machine slows both; the ratio is
ours / PyTorch. PyTorch runs with ``--threads`` threads (default 2, the cores
of the course machine); NumPy's BLAS uses its default thread count.

Quality (``--train PRESET``): trains a preset of ``course.models.rnnlm.PRESETS``
to completion (``book``: the book's Rnnlm for 4 epochs; ``small``: the
2x200 configuration of Zaremba et al. for 13 epochs) and prints the validation
perplexity after each epoch and the test perplexity at the end (10 streams,
as the book evaluates; then also one stream, as Zaremba et al. do), with the
wall time. ``--peer torch`` trains the PyTorch equivalent with the same recipe
afterwards, for the wall-time comparison.

Needs the PTB files: COURSE_DATA_DIR=/path/to/data (with ptb/ptb.*.txt).
PyTorch is the ``bench`` extra. ``--device cuda`` runs ours on CuPy and
PyTorch on the GPU (``python3 quickstart.py gpu-check`` does so), and
``--configs medium`` adds Zaremba et al.'s 2x650 medium model.

NumPy's OpenBLAS picks its matrix kernels from the CPU it detects, unless
``OPENBLAS_CORETYPE`` pins them, and the first line printed names the choice.
The course machine's environment pins ``Haswell`` (AVX2 kernels) although its
CPU has AVX-512; with the variable unset OpenBLAS picks ``SkylakeX`` there,
whose float32 products of an LSTM with 128 hidden units run 1.6-1.8 times
faster on 2 threads.

    COURSE_DATA_DIR=../shared/data python benchmarks/language_model.py
    COURSE_DATA_DIR=../shared/data python benchmarks/language_model.py --train book
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import course
from course.datasets import ptb
from course.models.rnnlm import BetterRnnlm, Rnnlm, get_preset
from course.optim import SGD
from course.train import RnnlmTrainer, check_finite, eval_perplexity, step

SPEED_CONFIGS = {
    # wordvec D, hidden H, LSTM layers, dropout, tying, lr, clip, batch, time, iterations per round
    "rnnlm": dict(
        D=100, H=100, layers=1, dropout=0.0, tie=False, lr=20.0, max_grad=0.25, batch=20, time=35, iters=8
    ),
    "better": dict(
        D=650, H=650, layers=2, dropout=0.5, tie=True, lr=20.0, max_grad=0.25, batch=20, time=35, iters=2
    ),
    "small": dict(
        D=200, H=200, layers=2, dropout=0.0, tie=False, lr=20.0, max_grad=0.25, batch=20, time=20, iters=8
    ),
    "medium": dict(
        D=650, H=650, layers=2, dropout=0.5, tie=False, lr=35.0, max_grad=5 / 35, batch=20, time=35, iters=2
    ),
}
DEFAULT_SPEED = ("rnnlm", "better")
DEVICE = {"name": "cpu"}  # --device: cpu, cuda (CuPy and PyTorch on the GPU) or strict (CuPy's rules, CPU)
TIME = 35  # steps per evaluation batch


# ----------------------------------------------------------------------------- PyTorch peer


def torch_model(V: int, D: int, H: int, layers: int, dropout: float, tie: bool, init_scale: float | None):
    import torch
    from torch import nn

    class TorchLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(V, D)
            self.drop = nn.Dropout(dropout)
            self.lstm = nn.LSTM(D, H, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
            self.out = nn.Linear(H, V)
            if tie:
                self.out.weight = self.embed.weight
            if init_scale is not None:
                for p in self.parameters():
                    nn.init.uniform_(p, -init_scale, init_scale)
                for name, p in self.named_parameters():
                    if "bias" in name:
                        nn.init.zeros_(p)

        def forward(self, x, state):
            y, state = self.lstm(self.drop(self.embed(x)), state)
            return self.out(self.drop(y)), state

    torch.manual_seed(0)
    return TorchLM().to(torch_device())


def torch_device() -> str:
    return "cuda" if DEVICE["name"] == "cuda" else "cpu"


def wait_for_devices() -> None:
    """Let queued GPU work finish before a timer is read (asynchronous kernels)."""
    course.backend.synchronize()
    if DEVICE["name"] == "cuda":
        import torch

        torch.cuda.synchronize()


class TorchTrainer:
    """The PyTorch twin of RnnlmTrainer's inner step (state carried and detached between blocks)."""

    def __init__(self, model, lr: float, max_grad: float) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss(ignore_index=-1)
        self.max_grad = max_grad
        self.state = None

    def step(self, bx: np.ndarray, bt: np.ndarray) -> float:
        torch = self.torch
        self.model.train()
        x, t = torch.from_numpy(bx).to(torch_device()), torch.from_numpy(bt).to(torch_device())
        if self.state is not None:
            self.state = tuple(s.detach() for s in self.state)
        out, self.state = self.model(x, self.state)
        loss = self.loss(out.reshape(-1, out.shape[-1]), t.reshape(-1))
        self.opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad)
        self.opt.step()
        return loss.item()

    def perplexity(self, corpus: np.ndarray, batch_size: int = 10, time_size: int = TIME) -> float:
        """Same streams and padding as course.train.eval_perplexity."""
        torch = self.torch
        n = len(corpus) - 1
        L = -(-n // batch_size)
        inputs = np.zeros(batch_size * L, dtype=np.int64)
        targets = np.full(batch_size * L, -1, dtype=np.int64)
        inputs[:n], targets[:n] = corpus[:-1], corpus[1:]
        inputs, targets = inputs.reshape(batch_size, L), targets.reshape(batch_size, L)
        self.model.eval()
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for s in range(0, L, time_size):
                x = torch.from_numpy(np.ascontiguousarray(inputs[:, s : s + time_size])).to(torch_device())
                t = torch.from_numpy(np.ascontiguousarray(targets[:, s : s + time_size])).to(torch_device())
                out, state = self.model(x, state)
                loss = torch.nn.functional.cross_entropy(
                    out.reshape(-1, out.shape[-1]), t.reshape(-1), ignore_index=-1, reduction="sum"
                )
                total += float(loss)
                count += int((t != -1).sum())
        self.state = None
        return math.exp(total / count)


class Cursor:
    """The peer's batches: the same truncated-BPTT streams as RnnlmTrainer, from its own position."""

    get_batch = RnnlmTrainer.get_batch

    def __init__(self) -> None:
        self.time_idx = 0


# ----------------------------------------------------------------------------- speed


def ours_model(V: int, cfg: dict):
    if cfg["layers"] == 1 and cfg["dropout"] == 0 and not cfg["tie"]:
        return Rnnlm(V, cfg["D"], cfg["H"])
    return BetterRnnlm(V, cfg["D"], cfg["H"], cfg["dropout"], cfg["layers"], cfg["tie"])


def contenders(name: str, V: int) -> tuple[RnnlmTrainer, TorchTrainer]:
    """Our model and its PyTorch twin for a speed configuration, each with its trainer."""
    cfg = SPEED_CONFIGS[name]
    course.seed(0)
    ours = RnnlmTrainer(ours_model(V, cfg), SGD(lr=cfg["lr"]))
    peer = TorchTrainer(
        torch_model(V, cfg["D"], cfg["H"], cfg["layers"], cfg["dropout"], cfg["tie"], None),
        cfg["lr"],
        cfg["max_grad"],
    )
    return ours, peer


def speed(name: str, corpus: np.ndarray, V: int, rounds: int, warmup: int) -> tuple[float, float, float]:
    """Alternate short timed rounds of ours and the peer; returns (ours tok/s, peer tok/s, median ratio)."""
    cfg = SPEED_CONFIGS[name]
    xs, ts = corpus[:-1], corpus[1:]
    ours, peer = contenders(name, V)
    batcher = Cursor()

    def ours_iter() -> None:
        bx, bt = ours.get_batch(xs, ts, cfg["batch"], cfg["time"])
        like = ours.model.params[0]
        bx, bt = course.backend.to_device(bx, like=like), course.backend.to_device(bt, like=like)
        loss = float(ours.model.forward(bx, bt))
        check_finite(loss, 0, 0)
        ours.model.backward()
        norms, rate = step(ours.model, ours.optimizer, cfg["max_grad"])
        ours.history.record(loss, norms, rate, 1)

    def peer_iter() -> None:
        bx, bt = batcher.get_batch(xs, ts, cfg["batch"], cfg["time"])
        peer.step(bx, bt)

    for _ in range(warmup):
        ours_iter()
        peer_iter()
    tokens = cfg["iters"] * cfg["batch"] * cfg["time"]
    seconds = {"numpy": [], "torch": []}
    for r in range(rounds):
        # Alternate which goes first so a slow spell hits both the same way on average.
        order = [("numpy", ours_iter), ("torch", peer_iter)]
        for label, fn in order if r % 2 == 0 else order[::-1]:
            wait_for_devices()
            t0 = time.perf_counter()
            for _ in range(cfg["iters"]):
                fn()
            wait_for_devices()
            seconds[label].append(time.perf_counter() - t0)
        a, b = tokens / seconds["numpy"][-1], tokens / seconds["torch"][-1]
        print(
            f"  {name:7s} round {r + 1:2d}: numpy {a:8.0f} tok/s   torch {b:8.0f} tok/s   ratio {a / b:.2f}"
        )
    ours_rate = tokens / statistics.median(seconds["numpy"])
    peer_rate = tokens / statistics.median(seconds["torch"])
    ratios = [p / o for o, p in zip(seconds["numpy"], seconds["torch"], strict=True)]
    return ours_rate, peer_rate, statistics.median(ratios)


def profile(name: str, corpus: np.ndarray, V: int, iters: int) -> None:
    """Print where an iteration's time goes, part by part, ours beside PyTorch's (``--profile``)."""
    import lm_profile

    cfg = SPEED_CONFIGS[name]
    xs, ts = corpus[:-1], corpus[1:]
    ours, peer = contenders(name, V)
    cursor_ours, cursor_peer = Cursor(), Cursor()

    def ours_batch() -> tuple:
        like = ours.model.params[0]
        bx, bt = cursor_ours.get_batch(xs, ts, cfg["batch"], cfg["time"])
        return course.backend.to_device(bx, like=like), course.backend.to_device(bt, like=like)

    def peer_batch() -> tuple:
        return cursor_peer.get_batch(xs, ts, cfg["batch"], cfg["time"])

    warm = max(2, iters // 4)
    lm_profile.profile_ours(ours.model, ours.optimizer, ours_batch, warm, cfg["max_grad"])
    lm_profile.profile_torch(peer, peer_batch, warm)
    table_ours = lm_profile.profile_ours(ours.model, ours.optimizer, ours_batch, iters, cfg["max_grad"])
    table_peer = lm_profile.profile_torch(peer, peer_batch, iters)
    lm_profile.print_tables(name, table_ours, table_peer)


# ----------------------------------------------------------------------------- training


def train(
    preset_name: str,
    peer: str | None,
    epochs: int | None,
    limit: int | None,
    seed: int = 0,
    save: str | None = None,
) -> None:
    preset = get_preset(preset_name, **({"max_epoch": epochs} if epochs else {}))
    train_ids, word_to_id, _ = ptb.load_data("train", progress=False)
    valid_ids, _, _ = ptb.load_data("valid", progress=False)
    test_ids, _, _ = ptb.load_data("test", progress=False)
    if limit:
        train_ids = train_ids[:limit]
    V = len(word_to_id)
    print(f"preset {preset.name}: {preset.note}; seed {seed}")
    print(
        f"  batch {preset.batch_size}, time {preset.time_size}, lr {preset.lr:g} (x{preset.lr_decay:g} per "
        f"epoch after {preset.decay_after}), clip {preset.max_grad:g}, {preset.max_epoch} epochs; "
        f"train {len(train_ids)} tokens",
        flush=True,
    )
    course.seed(seed)
    model = preset.build(V)
    optimizer = SGD(lr=preset.lr)
    trainer = RnnlmTrainer(model, optimizer)
    xs, ts = train_ids[:-1], train_ids[1:]
    start = time.perf_counter()
    for epoch in range(1, preset.max_epoch + 1):
        optimizer.lr = preset.lr_at(epoch)
        trainer.fit(
            xs, ts, 1, preset.batch_size, preset.time_size, preset.max_grad, eval_interval=100, progress=False
        )
        train_ppl = math.exp(statistics.fmean(trainer.history.loss[trainer.history.epoch == epoch]))
        model.reset_state()
        valid = eval_perplexity(model, valid_ids)
        print(
            f"  numpy epoch {epoch:2d}  lr {optimizer.lr:8.4f}  train ppl {train_ppl:8.2f}  "
            f"valid ppl {valid:8.2f}  elapsed {time.perf_counter() - start:7.0f} s",
            flush=True,
        )
    test = eval_perplexity(model, test_ids)
    wall = time.perf_counter() - start
    print(f"numpy {preset.name}: valid ppl {valid:.2f}  test ppl {test:.2f}  wall {wall:.0f} s", flush=True)
    # Zaremba et al. evaluate with one stream whose state runs through the whole text.
    print(
        f"numpy {preset.name}: test ppl with one stream (batch 1) {eval_perplexity(model, test_ids, 1):.2f}"
    )
    if save:
        model.save_params(save)
        print(f"parameters saved to {save}")
    if peer == "torch":
        train_torch(preset, train_ids, valid_ids, test_ids, V)


def train_torch(preset, train_ids, valid_ids, test_ids, V: int) -> None:
    model = torch_model(
        V,
        preset.wordvec_size,
        preset.hidden_size,
        preset.num_layers,
        preset.dropout_ratio,
        preset.tie_weights,
        preset.init_scale,
    )
    peer = TorchTrainer(model, preset.lr, preset.max_grad)
    cursor = Cursor()
    xs, ts = train_ids[:-1], train_ids[1:]
    iters = len(xs) // (preset.batch_size * preset.time_size)
    start = time.perf_counter()
    for epoch in range(1, preset.max_epoch + 1):
        for group in peer.opt.param_groups:
            group["lr"] = preset.lr_at(epoch)
        losses = [
            peer.step(*cursor.get_batch(xs, ts, preset.batch_size, preset.time_size)) for _ in range(iters)
        ]
        valid = peer.perplexity(valid_ids)
        print(
            f"  torch epoch {epoch:2d}  lr {preset.lr_at(epoch):8.4f}  "
            f"train ppl {math.exp(statistics.fmean(losses)):8.2f}  valid ppl {valid:8.2f}  "
            f"elapsed {time.perf_counter() - start:7.0f} s",
            flush=True,
        )
    test = peer.perplexity(test_ids)
    wall = time.perf_counter() - start
    print(f"torch {preset.name}: valid ppl {valid:.2f}  test ppl {test:.2f}  wall {wall:.0f} s", flush=True)
    print(f"torch {preset.name}: test ppl with one stream (batch 1) {peer.perplexity(test_ids, 1):.2f}")


def blas_description() -> str:
    """NumPy's BLAS library, its kernel architecture and thread count, as NumPy reports them."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        np.show_runtime()
    text = out.getvalue()
    fields = {}
    for key in ("internal_api", "architecture", "num_threads"):
        marker = f"'{key}': "
        if marker in text:
            fields[key] = text.split(marker, 1)[1].split(",", 1)[0].strip("'\" }]\n")
    return " ".join(f"{k}={v}" for k, v in fields.items()) or "(unknown)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_SPEED), choices=list(SPEED_CONFIGS))
    parser.add_argument("--rounds", type=int, default=12, help="alternating timing rounds per config")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations before the rounds")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch threads (default 2)")
    parser.add_argument(
        "--profile", type=int, metavar="ITERS", help="print each part's time over ITERS iterations instead"
    )
    parser.add_argument("--train", metavar="PRESET", help="train a preset to completion: book, small, ...")
    parser.add_argument("--peer", choices=["torch"], help="with --train: also train the PyTorch twin")
    parser.add_argument("--epochs", type=int, help="with --train: override the number of epochs")
    parser.add_argument("--limit", type=int, help="with --train: use only the first LIMIT training tokens")
    parser.add_argument("--seed", type=int, default=0, help="with --train: course.seed for our model")
    parser.add_argument("--save", metavar="PATH", help="with --train: save our trained parameters (.npz)")
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda", "strict"],
        default="cpu",
        help="cuda: ours on CuPy and PyTorch on the GPU; strict: ours under CuPy's rules on the CPU",
    )
    args = parser.parse_args()
    DEVICE["name"] = args.device
    if args.device != "cpu":
        course.use({"cuda": "cupy", "strict": "strict"}[args.device])  # explains itself if CuPy cannot run
        print(f"device: {args.device} (course backend {course.backend.name()})", flush=True)

    import torch

    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy {np.__version__} "
        f"with BLAS {blas_description()}",
        flush=True,
    )
    if args.train:
        train(args.train, args.peer, args.epochs, args.limit, args.seed, args.save)
        return
    corpus, word_to_id, _ = ptb.load_data("train", progress=False)
    V = len(word_to_id)
    print(f"PTB train: {len(corpus)} tokens, V = {V}; tokens/s (higher is better)")
    if args.profile:
        for name in args.configs:
            profile(name, corpus, V, args.profile)
        return
    results = {}
    for name in args.configs:
        results[name] = speed(name, corpus, V, args.rounds, args.warmup)
    print("\nmedian over rounds (ratio = numpy / torch tokens per second):")
    for name, (ours, peer, ratio) in results.items():
        print(
            f"  {name:7s} numpy {ours:8.0f} tok/s   torch {peer:8.0f} tok/s   "
            f"ratio of medians {ours / peer:.2f}   median of round ratios {ratio:.2f}"
        )


if __name__ == "__main__":
    main()
