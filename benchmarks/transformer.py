"""Chapter 9's Transformer models against chapter 8's LSTM models and against PyTorch, in one run.

    COURSE_DATA_DIR=../shared/data python benchmarks/transformer.py
    python benchmarks/transformer.py --sections peer --rounds 8       # only the PyTorch ratio
    python benchmarks/transformer.py --sections dates --epochs 8
    COURSE_DATA_DIR=../shared/data python benchmarks/transformer.py --sections lm --lm-seconds 600

Three sections, printed in this order:

* ``peer``: the encoder-decoder on dates beside its PyTorch twin
  (``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` with
  ``norm_first``, the same sizes, sinusoidal positions, dropout, padding masks,
  Adam with the same warm-up, clipping at 5), trained on the same batches.
  The two alternate in timed rounds of ``--round-batches`` batches (a busy
  machine slows both alike); the ratio is numpy / PyTorch examples per second
  (= PyTorch / numpy epoch time, so above 1 means ours is faster), and the
  epoch times are the rounds' medians scaled to one pass over the 45,000
  training questions.
* ``dates``: the Transformer and the LSTM attention seq2seq (chapter 8's
  recipe: reversed questions, character vectors 16, hidden 256, Adam 0.003,
  clipping 5) take turns epoch by epoch; after each epoch, the wall and CPU
  seconds it took (CPU time does not count the time a process spends paused
  or waiting for a core on a shared machine) and the exact-match accuracy on
  the 5,000 test questions. The Transformer
  trains with Adam, a warm-up of ``--warmup`` steps and inverse-square-root
  decay. The epoch at which each first reaches 99.9% is printed last.
* ``lm``: character language models on the Penn Treebank's text (the first
  ``--lm-chars`` characters of ptb.train.txt; validation: the first
  ``--lm-valid`` characters of ptb.valid.txt): a TransformerLM against an
  LSTM language model of about the same number of parameters, trained in
  alternating slices of wall time; the validation perplexity of both after
  every ``--lm-seconds / --lm-points`` seconds of training each.

NumPy's BLAS and PyTorch both get ``--threads`` threads (default 2, the
course machine's cores). On a machine shared with other work, 1 thread is
steadier: a BLAS thread that waits for a busy core stalls the other.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from threadpoolctl import threadpool_limits

import course
from course.datasets import sequence
from course.layers.positional import sinusoidal_encoding
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.rnnlm import BetterRnnlm
from course.models.transformer import TransformerLM, TransformerSeq2seq
from course.optim import Adam, WarmupSchedule
from course.train import RnnlmTrainer, Trainer, check_finite, eval_perplexity, eval_seq2seq, step

BATCH = 128
MAX_GRAD = 5.0
# The encoder-decoder used for dates everywhere below.
DATES_MODEL = dict(D=64, num_heads=4, D_ff=128, num_layers=2, max_len=32, dropout_ratio=0.0)


# ----------------------------------------------------------------------------- PyTorch twin


def torch_seq2seq(
    V: int,
    pad_id: int,
    D: int,
    num_heads: int,
    D_ff: int,
    num_layers: int,
    max_len: int,
    dropout_ratio: float,
):
    """nn.Transformer-style encoder-decoder with the same layout as TransformerSeq2seq (pre-norm)."""
    import torch
    from torch import nn

    class TorchTransformerSeq2seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_embed, self.tgt_embed = nn.Embedding(V, D), nn.Embedding(V, D)
            nn.init.normal_(self.src_embed.weight)
            nn.init.normal_(self.tgt_embed.weight)
            self.register_buffer("pe", torch.from_numpy(sinusoidal_encoding(max_len, D)))
            self.drop = nn.Dropout(dropout_ratio)
            layer = dict(
                d_model=D,
                nhead=num_heads,
                dim_feedforward=D_ff,
                dropout=dropout_ratio,
                batch_first=True,
                norm_first=True,
            )
            self.encoder = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(**layer),
                num_layers,
                norm=nn.LayerNorm(D),
                enable_nested_tensor=False,
            )
            self.decoder = nn.TransformerDecoder(
                nn.TransformerDecoderLayer(**layer), num_layers, norm=nn.LayerNorm(D)
            )
            self.out = nn.Linear(D, V)

        def forward(self, xs, ys):
            pad = xs == pad_id
            memory = self.encoder(
                self.drop(self.src_embed(xs) + self.pe[: xs.shape[1]]), src_key_padding_mask=pad
            )
            S = ys.shape[1]
            causal = torch.triu(torch.full((S, S), float("-inf")), diagonal=1)
            h = self.decoder(
                self.drop(self.tgt_embed(ys) + self.pe[:S]),
                memory,
                tgt_mask=causal,
                memory_key_padding_mask=pad,
            )
            return self.out(h)

    torch.manual_seed(0)
    return TorchTransformerSeq2seq()


class TorchTrainer:
    """Adam with the same warm-up, clipping at MAX_GRAD, targets after an answer's end ignored."""

    def __init__(self, model, lr: float, warmup: int, decay: str, pad_id: int) -> None:
        import torch

        self.torch, self.model, self.pad_id = torch, model, pad_id
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
        self.schedule = WarmupSchedule(Adam(lr=lr), warmup_steps=warmup, decay=decay)
        self.steps = 0

    def step(self, bx: np.ndarray, bt: np.ndarray) -> float:
        torch = self.torch
        self.model.train()
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = self.schedule.lr * self.schedule.rate(self.steps)
        x, t = torch.from_numpy(bx).long(), torch.from_numpy(bt).long()
        targets = t[:, 1:].clone()
        is_pad = targets == self.pad_id
        targets[(torch.cumsum(is_pad, 1) - is_pad.long()) > 0] = -1  # as answer_targets
        out = self.model(x, t[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            out.reshape(-1, out.shape[-1]), targets.reshape(-1), ignore_index=-1
        )
        self.opt.zero_grad(set_to_none=False)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), MAX_GRAD)
        self.opt.step()
        return loss.item()


def peer(args, data, char_to_id) -> None:
    """Alternating timed rounds of our encoder-decoder and its PyTorch twin on the same batches."""
    (x, t), _ = data
    pad_id, V = char_to_id[sequence.PAD], len(char_to_id)
    course.seed(args.seed)
    ours = Trainer(
        TransformerSeq2seq(V, pad_id=pad_id, **DATES_MODEL),
        WarmupSchedule(Adam(lr=args.lr), warmup_steps=args.warmup, decay="constant"),
    )  # the same steps for both; the rate after the warm-up does not change the time
    twin = TorchTrainer(torch_seq2seq(V, pad_id, **DATES_MODEL), args.lr, args.warmup, "constant", pad_id)
    n_ours = sum(p.size for p in ours.model.params)
    n_twin = sum(p.numel() for p in twin.model.parameters())
    print(f"\nencoder-decoder on dates: {n_ours} parameters (PyTorch twin: {n_twin}), batch {BATCH}")
    order = np.random.default_rng(args.seed).permutation(len(x))
    cursor = {"i": 0}

    def batches(k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for _ in range(k):
            idx = order[(cursor["i"] * BATCH) % (len(x) - BATCH) :][:BATCH]
            cursor["i"] += 1
            out.append((x[idx], t[idx]))
        return out

    def ours_round(chunk) -> None:
        for bx, bt in chunk:
            loss = float(ours.model.forward(bx, bt))
            check_finite(loss, 0, 0)
            ours.model.backward()
            step(ours.model, ours.optimizer, MAX_GRAD)

    def twin_round(chunk) -> None:
        for bx, bt in chunk:
            twin.step(bx, bt)

    warm = batches(2)
    ours_round(warm)
    twin_round(warm)
    per_epoch = len(x) / BATCH
    seconds = {"numpy": [], "torch": []}
    for r in range(args.rounds):
        chunk = batches(args.round_batches)  # both train on the same batches
        pair = [("numpy", ours_round), ("torch", twin_round)]
        for label, fn in pair if r % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            fn(chunk)
            seconds[label].append(time.perf_counter() - start)
        a, b = (per_epoch * seconds[k][-1] / args.round_batches for k in ("numpy", "torch"))
        print(
            f"  round {r + 1:2d}: epoch time numpy {a:7.1f} s   torch {b:7.1f} s   ratio {b / a:.2f}",
            flush=True,
        )
    a, b = (per_epoch * statistics.median(seconds[k]) / args.round_batches for k in ("numpy", "torch"))
    ratios = [p / o for o, p in zip(seconds["numpy"], seconds["torch"], strict=True)]
    print(
        f"median epoch time: numpy {a:.1f} s, torch {b:.1f} s; ratio numpy/torch speed (torch time / numpy "
        f"time): ratio of medians {b / a:.2f}, median of round ratios {statistics.median(ratios):.2f}"
    )


# ----------------------------------------------------------------------------- dates


def schedule(args, optimizer, total_steps: int) -> WarmupSchedule:
    """The Transformer's warm-up; a linear decay ends at the last step of the planned epochs."""
    if args.decay == "linear":
        return WarmupSchedule(optimizer, args.warmup, "linear", total_steps=total_steps, min_rate=0.05)
    return WarmupSchedule(optimizer, args.warmup, args.decay)


def dates(args, data, char_to_id, id_to_char) -> None:
    """The Transformer and the LSTM attention model take turns epoch by epoch on dates."""
    (x, t), (xt, tt) = data
    pad_id, V = char_to_id[sequence.PAD], len(char_to_id)
    course.seed(args.seed)
    transformer = TransformerSeq2seq(V, pad_id=pad_id, **DATES_MODEL)
    course.seed(args.seed)
    lstm = AttentionSeq2seq(V, 16, 256, pad_id=pad_id)
    runs = [
        dict(
            label="Transformer",
            model=transformer,
            reverse=False,
            optimizer=schedule(args, Adam(lr=args.lr), args.epochs * (len(x) // BATCH)),
            epochs=args.epochs,
        ),
        dict(
            label="LSTM attention",
            model=lstm,
            reverse=True,
            optimizer=Adam(lr=0.003),
            epochs=args.lstm_epochs,
        ),
    ]
    rx, rxt = sequence.reverse_questions(x, pad_id), sequence.reverse_questions(xt, pad_id)
    for r in runs:
        r.update(trainer=Trainer(r["model"], r["optimizer"]), seconds=[], cpu=[], accuracy=[])
        r["params"] = sum(p.size for p in r["model"].params)
    print(f"\ndates: {len(x)} training, {len(xt)} test questions; batch {BATCH}, clipping {MAX_GRAD}")
    for r in runs:
        print(f"  {r['label']}: {r['params']} parameters")
    print(f"{'model':<15} {'epoch':>5} {'seconds':>8} {'cpu s':>8} {'loss':>8} {'test acc':>9}")
    for epoch in range(1, max(args.epochs, args.lstm_epochs) + 1):
        for r in [r for r in (runs if epoch % 2 else runs[::-1]) if epoch <= r["epochs"]]:
            qx, qxt = (rx, rxt) if r["reverse"] else (x, xt)
            start, cpu = time.perf_counter(), time.process_time()
            history = r["trainer"].fit(
                qx, t, max_epoch=1, batch_size=BATCH, max_grad=MAX_GRAD, progress=False
            )
            r["seconds"].append(time.perf_counter() - start)
            r["cpu"].append(time.process_time() - cpu)
            r["accuracy"].append(eval_seq2seq(r["model"], qxt, tt, id_to_char, batch_size=250))
            loss = float(history.loss[-len(x) // BATCH :].mean())
            seconds, cpu, accuracy = r["seconds"][-1], r["cpu"][-1], r["accuracy"][-1]
            print(
                f"{r['label']:<15} {epoch:>5} {seconds:>8.1f} {cpu:>8.1f} {loss:>8.4f} {accuracy:>9.2%}",
                flush=True,
            )
    for r in runs:
        first = next((i + 1 for i, a in enumerate(r["accuracy"]) if a >= 0.999), None)
        reached = f"first >= 99.9% after epoch {first}" if first else "never reached 99.9%"
        print(
            f"{r['label']}: median epoch {statistics.median(r['seconds']):.1f} s (CPU "
            f"{statistics.median(r['cpu']):.1f} s), best test accuracy "
            f"{max(r['accuracy']):.2%}, {reached}"
        )
    for key in ("seconds", "cpu"):
        a, b = (statistics.median(r[key]) for r in runs)
        print(f"epoch time ({key}) Transformer / LSTM attention: {a / b:.2f}")


# ----------------------------------------------------------------------------- character LM


def char_corpora(args):
    """Character ids of the start of PTB's training and validation text, one shared vocabulary."""
    from course.datasets import ptb

    texts = [
        ptb.find_file(split, progress=False).read_text(encoding="utf-8")[:limit]
        for split, limit in (("train", args.lm_chars), ("valid", args.lm_valid))
    ]
    vocab = sorted(set("".join(texts)))
    index = {c: i for i, c in enumerate(vocab)}
    return [np.fromiter(map(index.__getitem__, s), dtype=np.int64, count=len(s)) for s in texts], vocab


def language_models(args) -> None:
    """Transformer and LSTM character models, equal parameters, validation perplexity at equal wall time."""
    (train, valid), vocab = char_corpora(args)
    V, T = len(vocab), args.lm_time
    course.seed(args.seed)
    transformer = TransformerLM(V, D=128, num_heads=4, D_ff=512, num_layers=2, max_len=T, dropout_ratio=0.1)
    course.seed(args.seed)
    lstm = BetterRnnlm(V, 160, 160, dropout_ratio=0.1, num_layers=2, tie_weights=True)
    runs = [
        dict(
            label="Transformer",
            model=transformer,
            trainer=RnnlmTrainer(transformer, WarmupSchedule(Adam(lr=1e-3), warmup_steps=200)),
        ),
        dict(label="LSTM", model=lstm, trainer=RnnlmTrainer(lstm, Adam(lr=3e-3))),
    ]
    print(f"\ncharacter LM on PTB text: {len(train)} training, {len(valid)} validation characters, V = {V}")
    for r in runs:
        r.update(params=sum(p.size for p in r["model"].params), seconds=0.0, points=[])
        print(f"  {r['label']}: {r['params']} parameters")
    xs, ts = train[:-1], train[1:]
    slice_s = args.lm_seconds / args.lm_points
    print(f"{'seconds each':>12} " + " ".join(f"{r['label'] + ' val ppl':>18}" for r in runs))
    for point in range(1, args.lm_points + 1):
        for r in runs if point % 2 else runs[::-1]:
            start = time.perf_counter()
            _train_for(r, xs, ts, T, start, slice_s)
            r["seconds"] += time.perf_counter() - start
            r["points"].append(eval_perplexity(r["model"], valid, batch_size=32, time_size=T))
        print(f"{point * slice_s:>12.0f} " + " ".join(f"{r['points'][-1]:>18.3f}" for r in runs), flush=True)


def _train_for(r, xs, ts, T, start, seconds) -> None:
    """Train ``r``'s model on consecutive blocks until ``seconds`` have passed since ``start``."""
    trainer, model = r["trainer"], r["model"]
    while time.perf_counter() - start < seconds:
        bx, bt = trainer.get_batch(xs, ts, 32, T)
        loss = float(model.forward(bx, bt))
        check_finite(loss, 0, 0)
        model.backward()
        step(model, trainer.optimizer, 1.0)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sections", nargs="+", default=["peer", "dates", "lm"], choices=["peer", "dates", "lm"]
    )
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=3e-3, help="the Transformer's peak learning rate")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up steps of the Transformer")
    parser.add_argument("--decay", default="linear", choices=WarmupSchedule.DECAYS, help="after the warm-up")
    parser.add_argument("--epochs", type=int, default=8, help="dates: epochs of the Transformer")
    parser.add_argument("--lstm-epochs", type=int, default=3, help="dates: epochs of the LSTM model")
    parser.add_argument("--limit", type=int, help="dates: only the first LIMIT training and test questions")
    parser.add_argument("--rounds", type=int, default=8, help="peer: alternating timed rounds")
    parser.add_argument("--round-batches", type=int, default=20, help="peer: batches per round")
    parser.add_argument("--lm-chars", type=int, default=1_000_000)
    parser.add_argument("--lm-valid", type=int, default=100_000)
    parser.add_argument("--lm-time", type=int, default=64, help="characters per training block")
    parser.add_argument("--lm-seconds", type=float, default=600.0, help="training seconds of each LM")
    parser.add_argument("--lm-points", type=int, default=5, help="validation points")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads, user_api="blas")
    print(f"torch {torch.__version__}, numpy {np.__version__}; {args.threads} threads each")
    char_to_id, id_to_char = sequence.get_vocab("dates")
    (x, t), (xt, tt) = sequence.load_data("dates", reverse=False, seed=args.seed)
    data = (x[: args.limit], t[: args.limit]), (xt[: args.limit], tt[: args.limit])
    if "peer" in args.sections:
        peer(args, data, char_to_id)
    if "dates" in args.sections:
        dates(args, data, char_to_id, id_to_char)
    if "lm" in args.sections:
        language_models(args)


if __name__ == "__main__":
    main()
