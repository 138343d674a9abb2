"""Train the seq2seq variants and print epoch time and test accuracy per epoch.

    python benchmarks/seq2seq.py                      # addition: plain, reversed, reversed + peeky; dates
    python benchmarks/seq2seq.py --task addition --variants peeky --epochs 20
    python benchmarks/seq2seq.py --task dates --epochs 3 --bidirectional
    python benchmarks/seq2seq.py --task dates --baseline  # also the former date generator, same run
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

Dates: after training, the model also answers the held-out list of
``course.datasets.held_out_dates`` (formats the generator was not built from);
the benchmark prints its accuracy per format family and, for both test sets,
how many answers are no date at all, then a probe of compact dates per variant
(``compact_probe_report``). ``--baseline`` first trains the same
model, same recipe, on the former generator (17 fixed styles, kept below as
``former_date_pairs``) and prints the ratio of the median epoch times, new /
former, measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

import numpy as np

import course
from course.datasets import held_out_dates, sequence
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.seq2seq import PeekySeq2seq, Seq2seq, answer_targets, cut_at_end, question_lengths
from course.optim import Adam
from course.train import Trainer, eval_dates, eval_seq2seq

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
    accuracies, ratios, epoch_seconds = [], [], []
    for epoch in range(1, epochs + 1):
        optimizer.lr = lr * decay ** max(0, epoch - hold)
        start = time.perf_counter()
        history = trainer.fit(x, t, max_epoch=1, batch_size=128, max_grad=5.0, progress=False)
        seconds = time.perf_counter() - start
        epoch_seconds.append(seconds)
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
    return accuracies, epoch_seconds


# --------------------------------------------------------------------------
# Dates: the former generator (the baseline), the held-out check
# --------------------------------------------------------------------------

_MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
_DAYS = [dt.date(2024, 1, d).strftime("%A") for d in range(1, 8)]  # 1 January 2024 was a Monday


def _former_abbr(m: int) -> str:
    return "Sept" if m == 9 else _MONTHS[m - 1][:3]


def _former_ordinal(day: int) -> str:
    return f"{day}{'th' if 11 <= day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


# The course's date styles before the grammar: 17 fixed styles, US slashes next to European dots.
_FORMER_STYLES = [
    lambda d: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_former_abbr(d.month)}. {d.day}, {d.year}",
    lambda d: f"{_former_abbr(d.month)} {d.day} {d.year}",
    lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {_former_abbr(d.month)} {d.year % 100:02d}",
    lambda d: f"{_former_ordinal(d.day)} of {_MONTHS[d.month - 1]}, {d.year}",
    lambda d: f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_DAYS[d.weekday()][:3]} {d.day} {_former_abbr(d.month)} {d.year}",
    lambda d: f"{_DAYS[d.weekday()].lower()} {d.day} {_MONTHS[d.month - 1].lower()} {d.year % 100:02d}",
    lambda d: f"{_MONTHS[d.month - 1].upper()} {d.day}, {d.year}",
    lambda d: f"{d.month}/{d.day}/{d.year}",
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}",
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    lambda d: f"{d.day}-{_former_abbr(d.month).upper()}-{d.year}",
]


def former_date_pairs(n: int = 50_000, seed: int = 1984) -> list[tuple[str, str]]:
    """The former generator: a random date of 1950-2049 in one of 17 styles, drawn as before."""
    gen = np.random.default_rng(seed)
    first = dt.date(1950, 1, 1)
    offsets = gen.integers(0, (dt.date(2049, 12, 31) - first).days + 1, n).tolist()
    styles = gen.integers(0, len(_FORMER_STYLES), n).tolist()
    days = [first + dt.timedelta(days=off) for off in offsets]
    return [(_FORMER_STYLES[s](d), f"_{d.isoformat()}") for d, s in zip(days, styles, strict=True)]


def former_date_data(seed: int = 1984) -> tuple:
    """((x, t), (x_test, t_test)) of the former generator with its former vocabulary, reversed; vocab."""
    names = _MONTHS + _DAYS
    text = "".join(names) + "".join(n.upper() + n.lower() for n in names) + "0123456789,./- ofthstndrd_"
    alphabet = " " + "".join(sorted(set(text) - {" "}))
    char_to_id, id_to_char = {c: i for i, c in enumerate(alphabet)}, dict(enumerate(alphabet))
    pairs = former_date_pairs(seed=seed)
    x = sequence.encode([q for q, _ in pairs], char_to_id, 29)
    t = sequence.encode([a for _, a in pairs], char_to_id, 11)
    x = sequence.reverse_questions(x)
    order = np.random.default_rng(seed + 1).permutation(len(x))
    x, t = x[order], t[order]
    return ((x[5000:], t[5000:]), (x[:5000], t[:5000])), char_to_id, id_to_char


def held_out_report(model, char_to_id, id_to_char) -> None:
    """Answer the held-out list; print its table per family (questions with foreign characters: left out)."""
    questions, answers, families = held_out_dates.load_held_out()
    keep = [i for i, q in enumerate(questions) if set(q) <= set(char_to_id)]
    if len(keep) < len(questions):
        print(
            f"({len(questions) - len(keep)} of {len(questions)} held-out questions use characters "
            "outside this vocabulary and are left out)"
        )
    x = sequence.reverse_questions(sequence.encode([questions[i] for i in keep], char_to_id, 29))
    t = sequence.encode([answers[i] for i in keep], char_to_id, 11)
    scores = eval_dates(model, x, t, id_to_char, families=[families[i] for i in keep])
    print("held-out dates, per format family:")
    print(scores.table())
    wrong = scores.wrong()
    for i in wrong[:12]:
        print(f"  wrong: {questions[keep[i]]!r:<32} -> {scores.answers[i]} (right: {answers[keep[i]][1:]})")


def compact_probe_report(model, char_to_id, id_to_char, n: int = 1500, seed: int = 77) -> None:
    """Answer n compact dates drawn here from datetime (03MAR99, 3-mar-1999 ...) and yyyymmdd dates.

    The held-out list has 9 unseparated military dates, too few to tell two
    generator mixes apart; this probe has every variant of the form (day
    padded or not, hyphens or nothing, three cases, two- or four-digit years)
    in equal shares, from a seed of its own. Prints the accuracy per variant.
    """
    rng = random.Random(seed)
    first, rows = dt.date(1950, 1, 1), []
    for _ in range(n):
        d = first + dt.timedelta(days=rng.randrange(36524))
        sep, case, four = rng.choice(["", "-"]), rng.choice(["upper", "title", "lower"]), rng.random() < 0.5
        month = {"upper": str.upper, "lower": str.lower, "title": str}[case](d.strftime("%b"))
        year = str(d.year) if four else f"{d.year % 100:02d}"
        day = f"{d.day:02d}" if rng.random() < 0.5 else str(d.day)
        rows.append(
            (f"{day}{sep}{month}{sep}{year}", "_" + d.isoformat(), (sep or "none", case, 4 if four else 2))
        )
    for _ in range(n // 3):
        d = first + dt.timedelta(days=rng.randrange(36524))
        rows.append((d.strftime("%Y%m%d"), "_" + d.isoformat(), ("yyyymmdd",)))
    x = sequence.reverse_questions(sequence.encode([q for q, _, _ in rows], char_to_id, 29))
    t = sequence.encode([a for _, a, _ in rows], char_to_id, 11)
    scores = eval_dates(model, x, t, id_to_char, families=[" ".join(map(str, f)) for _, _, f in rows])
    print("probe of compact dates (separator, case, year digits):")
    print(scores.table())


def _date_run(label: str, data, char_to_id: dict, id_to_char: dict, args, lr: float) -> dict:
    """One date model to train: its data, vocabulary, model, optimizer, trainer and epoch times."""
    course.seed(args.seed)
    pad_id = char_to_id[sequence.PAD]
    model = AttentionSeq2seq(len(char_to_id), 16, 256, pad_id=pad_id, bidirectional=args.bidirectional)
    optimizer = Adam(lr=lr)
    return dict(
        label=label, data=data, char_to_id=char_to_id, id_to_char=id_to_char, model=model,
        optimizer=optimizer, trainer=Trainer(model, optimizer), seconds=[], cpu=[],
    )  # fmt: skip


def dates(args, schedule) -> None:
    """Train the date model and print its tables; with --baseline, the former generator's model too.

    With --baseline the two models take turns epoch by epoch (former, new,
    new, former, ...), so that a shared machine's slow and fast phases fall
    on both alike; the ratio of their median epoch times is printed last.
    """
    kind = "bidirectional attention" if args.bidirectional else "attention"
    epochs, lr, hold, decay = schedule("dates")
    runs = []
    if args.baseline:
        data, char_to_id, id_to_char = former_date_data(args.seed)
        runs.append(_date_run("former generator", data, char_to_id, id_to_char, args, lr))
    char_to_id, id_to_char = sequence.get_vocab("dates")
    start = time.perf_counter()
    data = sequence.load_data("dates", reverse=True, seed=args.seed)
    print(f"generating and encoding 50,000 dates: {time.perf_counter() - start:.2f} s")
    runs.append(_date_run("grammar", data, char_to_id, id_to_char, args, lr))
    print(f"\ndates, {kind}, reversed: {len(data[0][0])} training, {len(data[1][0])} test questions")
    print(f"{'generator':<17} {'epoch':>5} {'seconds':>8} {'cpu s':>8} {'loss':>8} {'lr':>9} {'test acc':>9}")
    for epoch in range(1, epochs + 1):
        for r in runs if epoch % 2 else runs[::-1]:
            (x, t), (xt, tt) = r["data"]
            r["optimizer"].lr = lr * decay ** max(0, epoch - hold)
            start, cpu = time.perf_counter(), time.process_time()
            history = r["trainer"].fit(x, t, max_epoch=1, batch_size=128, max_grad=5.0, progress=False)
            r["seconds"].append(time.perf_counter() - start)
            r["cpu"].append(time.process_time() - cpu)
            acc = eval_seq2seq(r["model"], xt, tt, r["id_to_char"], reverse=True)
            loss = float(history.loss[-len(x) // 128 :].mean())
            print(
                f"{r['label']:<17} {epoch:>5} {r['seconds'][-1]:>8.2f} {r['cpu'][-1]:>8.2f} {loss:>8.4f} "
                f"{r['optimizer'].lr:>9.2e} {acc:>9.2%}",
                flush=True,
            )
    for r in runs:
        _, (xt, tt) = r["data"]
        scores = eval_dates(r["model"], xt, tt, r["id_to_char"])
        print(f"\n{r['label']}: generated test set {scores.accuracy:.2%} exact, ", end="")
        print(f"{scores.invalid} answers no date at all")
        questions = sequence.decode(sequence.reverse_questions(xt), r["id_to_char"])
        for i in scores.wrong()[:12]:
            print(f"  wrong: {questions[i]!r:<32} -> {scores.answers[i]}")
        held_out_report(r["model"], r["char_to_id"], r["id_to_char"])
        if r["label"] == "grammar":
            compact_probe_report(r["model"], r["char_to_id"], r["id_to_char"])
    if args.baseline and epochs:
        for key, what in (("seconds", "wall"), ("cpu", "CPU")):
            former, grammar = (statistics.median(r[key]) for r in runs)
            print(
                f"median epoch ({what}): grammar {grammar:.2f} s, former generator {former:.2f} s, ", end=""
            )
            print(f"ratio {grammar / former:.3f}")


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
        "--baseline", action="store_true", help="dates: first train on the former generator, same recipe"
    )
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
        dates(args, schedule)


if __name__ == "__main__":
    main()
