"""Train the seq2seq variants and print epoch time and test accuracy per epoch.

    python benchmarks/seq2seq.py                      # addition: plain, reversed, reversed + peeky; dates
    python benchmarks/seq2seq.py --task addition --variants peeky --epochs 20
    python benchmarks/seq2seq.py --task dates --epochs 3 --bidirectional

Addition: Adam, batch 128, character vectors 16, hidden 128, clip 5; learning
rate 0.003 for 10 epochs, then x0.6 per epoch. Dates: reversed input,
attention, hidden 256, Adam at 0.003, batch 128, clip 5. The learning rate is
held for ``--hold`` epochs, then multiplied by ``--decay`` every epoch, which
keeps a model that has reached ~100% from being knocked off it by a late large
step. Test accuracy is exact match on the 5,000 test questions, answered in
batches.
"""

from __future__ import annotations

import argparse
import time

import course
from course.datasets import sequence
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.seq2seq import PeekySeq2seq, Seq2seq
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


def run(name: str, model, data, id_to_char, epochs: int, lr: float, hold: int, decay: float, reverse: bool):
    (x, t), (xt, tt) = data
    optimizer = Adam(lr=lr)
    trainer = Trainer(model, optimizer)
    print(f"\n{name}: {len(x)} training, {len(xt)} test questions")
    print(f"{'epoch':>5} {'seconds':>8} {'eval s':>7} {'loss':>8} {'lr':>9} {'test acc':>9}")
    accuracies = []
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
        print(
            f"{epoch:>5} {seconds:>8.2f} {eval_seconds:>7.2f} {loss:>8.4f} {optimizer.lr:>9.2e} {acc:>9.2%}"
        )
    return accuracies


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
    args = parser.parse_args()

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
            model = model_class(len(char_to_id), 16, 128, pad_id=char_to_id[sequence.PAD])
            run(f"addition, {variant}", model, data, id_to_char, *schedule("addition"), reverse)
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
