"""Train the seq2seq variants and print epoch time and test accuracy per epoch.

    python benchmarks/seq2seq.py                      # addition: plain, reversed, reversed + peeky; dates
    python benchmarks/seq2seq.py --task addition --variants peeky --epochs 20
    python benchmarks/seq2seq.py --task dates --epochs 3 --bidirectional
    python benchmarks/seq2seq.py --task addition --variants plain peeky --epochs 5 --peer torch

Addition: Adam, batch 128, character vectors 16, hidden 128, clip 5; learning
rate 0.003 for 10 epochs, then x0.6 per epoch. Dates: reversed input,
attention, hidden 256, Adam at 0.003, batch 128, clip 5. The learning rate is
held for ``--hold`` epochs, then multiplied by ``--decay`` every epoch, which
keeps a model that has reached ~100% from being knocked off it by a late large
step. Test accuracy is exact match on the 5,000 test questions, answered in
batches.

``--peer torch`` (addition) trains the PyTorch twin of each model after each
of our epochs, on the same questions with the same recipe (its encoder packs
the padded questions, as ours skips the padding), and prints both epoch times
and their ratio: the machine's speed drifts from run to run, the ratio much
less. PyTorch is the ``bench`` extra and uses the same number of threads.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import course
from course.datasets import sequence
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.seq2seq import PeekySeq2seq, Seq2seq, answer_targets, cut_at_end, question_lengths
from course.optim import Adam
from course.train import Trainer, eval_seq2seq

# Per task: epochs, learning rate, epochs held at it, decay per epoch after that.
DEFAULTS = {
    "addition": dict(epochs=25, lr=0.003, hold=10, decay=0.6),
    "dates": dict(epochs=3, lr=0.003, hold=3, decay=0.6),
}

ADDITION = {
    "plain": (Seq2seq, False),
    "reversed": (Seq2seq, True),
    "peeky": (PeekySeq2seq, True),
}


def run(
    name: str,
    model,
    data,
    id_to_char,
    epochs: int,
    lr: float,
    hold: int,
    decay: float,
    reverse: bool,
    peer=None,
):
    (x, t), (xt, tt) = data
    optimizer = Adam(lr=lr)
    trainer = Trainer(model, optimizer)
    print(f"\n{name}: {len(x)} training, {len(xt)} test questions")
    header = f"{'epoch':>5} {'seconds':>8} {'eval s':>7} {'loss':>8} {'lr':>9} {'test acc':>9}"
    print(header + (f" {'torch s':>8} {'ratio':>6} {'torch acc':>9}" if peer else ""))
    accuracies, ratios = [], []
    for epoch in range(1, epochs + 1):
        optimizer.lr = lr * decay ** max(0, epoch - hold)
        start = time.perf_counter()
        history = trainer.fit(x, t, max_epoch=1, batch_size=128, max_grad=5.0, progress=False)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        acc = eval_seq2seq(model, xt, tt, id_to_char, reverse=reverse)
        eval_seconds = time.perf_counter() - start
        loss = float(history.loss[-len(x) // 128 :].mean())
        accuracies.append(acc)
        line = (
            f"{epoch:>5} {seconds:>8.2f} {eval_seconds:>7.2f} {loss:>8.4f} {optimizer.lr:>9.2e} {acc:>9.2%}"
        )
        if peer:
            peer_seconds = peer.epoch(x, t, optimizer.lr)
            ratios.append(seconds / peer_seconds)
            peer_acc = eval_seq2seq(peer, xt, tt, id_to_char)
            line += f" {peer_seconds:>8.2f} {ratios[-1]:>6.2f} {peer_acc:>9.2%}"
        print(line, flush=True)
    if peer:
        print(
            f"{name}: epoch time ours / torch, median over {epochs} epochs: {statistics.median(ratios):.2f}"
        )
    return accuracies


class TorchSeq2seq:
    """The PyTorch twin of Seq2seq / PeekySeq2seq, trained the same way (Adam, batch 128, clip 5).

    The encoder packs the padded questions, so each question's summary is the
    state at its last character; answers' targets after the end are ignored.
    ``generate`` answers greedily, as ours does, for ``eval_seq2seq``.
    """

    def __init__(self, V: int, D: int, H: int, pad_id: int, peeky: bool, seed: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch, self.pad_id, self.peeky = torch, pad_id, peeky
        self.enc_embed, self.dec_embed = nn.Embedding(V, D), nn.Embedding(V, D)
        self.encoder = nn.LSTM(D, H, batch_first=True)
        self.decoder = nn.LSTM(D + H * peeky, H, batch_first=True)
        self.affine = nn.Linear(H + H * peeky, V)
        self.modules = [self.enc_embed, self.dec_embed, self.encoder, self.decoder, self.affine]
        self.parameters = [p for m in self.modules for p in m.parameters()]
        self.optimizer = torch.optim.Adam(self.parameters, lr=0.001)
        self.rng = np.random.default_rng(seed)

    def _encode(self, xs: np.ndarray):
        torch = self.torch
        lengths = torch.from_numpy(np.asarray(question_lengths(xs, self.pad_id), dtype=np.int64))
        embedded = self.enc_embed(torch.from_numpy(xs.astype(np.int64)))
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            embedded, lengths, batch_first=True, enforce_sorted=False
        )
        _, (h, _) = self.encoder(packed)
        return h  # (1, N, H): each question's state at its end

    def _decode(self, ids, h, state):
        """Scores (N, T', V) and the decoder's state after reading ids (N, T')."""
        torch = self.torch
        x = self.dec_embed(ids)
        hs = h[0][:, None, :].expand(-1, ids.shape[1], -1)
        if self.peeky:
            x = torch.cat([hs, x], dim=2)
        out, state = self.decoder(x, state)
        if self.peeky:
            out = torch.cat([hs, out], dim=2)
        return self.affine(out), state

    def epoch(self, x: np.ndarray, t: np.ndarray, lr: float, batch_size: int = 128) -> float:
        """Train one epoch of shuffled batches at learning rate lr; return its seconds."""
        torch = self.torch
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        targets = answer_targets(t, self.pad_id).astype(np.int64)
        order = self.rng.permutation(len(x))
        start = time.perf_counter()
        for i in range(len(x) // batch_size):
            idx = order[i * batch_size : (i + 1) * batch_size]
            h = self._encode(x[idx])
            scores, _ = self._decode(
                torch.from_numpy(t[idx, :-1].astype(np.int64)), h, (h, torch.zeros_like(h))
            )
            loss = torch.nn.functional.cross_entropy(
                scores.reshape(-1, scores.shape[-1]),
                torch.from_numpy(targets[idx]).reshape(-1),
                ignore_index=-1,
            )
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters, 5.0)
            self.optimizer.step()
        return time.perf_counter() - start

    def generate(self, xs: np.ndarray, start_id: int, sample_size: int) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            h = self._encode(np.asarray(xs))
            ids = torch.full((len(xs), 1), start_id, dtype=torch.int64)
            state, out = (h, torch.zeros_like(h)), []
            for _ in range(sample_size):
                scores, state = self._decode(ids, h, state)
                ids = scores.argmax(dim=-1)
                out.append(ids)
        return cut_at_end(torch.cat(out, dim=1).numpy(), self.pad_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=["addition", "dates", "all"], default="all")
    parser.add_argument("--variants", nargs="*", default=list(ADDITION), choices=list(ADDITION))
    parser.add_argument("--epochs", type=int, help="default: 25 for addition, 3 for dates")
    parser.add_argument("--lr", type=float, help="Adam's learning rate (default 0.003)")
    parser.add_argument("--hold", type=int, help="epochs at the full learning rate (default: 10; dates 3)")
    parser.add_argument("--decay", type=float, help="learning-rate factor per epoch after --hold (0.6)")
    parser.add_argument("--bidirectional", action="store_true", help="dates: a bidirectional encoder")
    parser.add_argument("--seed", type=int, default=1984)
    parser.add_argument(
        "--peer", choices=["torch"], help="addition: also train the PyTorch twin, epoch by epoch"
    )
    args = parser.parse_args()
    if args.peer:
        import torch

        print(f"torch {torch.__version__} with {torch.get_num_threads()} threads; numpy {np.__version__}")

    def schedule(task: str) -> tuple:
        given = {k: getattr(args, k) for k in DEFAULTS[task] if getattr(args, k) is not None}
        s = DEFAULTS[task] | given
        return s["epochs"], s["lr"], s["hold"], s["decay"]

    if args.task in ("addition", "all"):
        char_to_id, id_to_char = sequence.get_vocab("addition")
        for variant in args.variants:
            model_class, reverse = ADDITION[variant]
            course.seed(args.seed)
            data = sequence.load_data("addition", reverse=reverse)
            pad_id = char_to_id[sequence.PAD]
            model = model_class(len(char_to_id), 16, 128, pad_id=pad_id)
            peer = None
            if args.peer:
                peer = TorchSeq2seq(len(char_to_id), 16, 128, pad_id, model_class is PeekySeq2seq, args.seed)
            run(f"addition, {variant}", model, data, id_to_char, *schedule("addition"), reverse, peer)
    if args.task in ("dates", "all"):
        char_to_id, id_to_char = sequence.get_vocab("dates")
        course.seed(args.seed)
        data = sequence.load_data("dates", reverse=True)
        model = AttentionSeq2seq(
            len(char_to_id), 16, 256, pad_id=char_to_id[sequence.PAD], bidirectional=args.bidirectional
        )
        kind = "bidirectional attention" if args.bidirectional else "attention"
        run(f"dates, {kind}, reversed", model, data, id_to_char, *schedule("dates"), True)


if __name__ == "__main__":
    main()
