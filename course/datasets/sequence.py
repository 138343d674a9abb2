"""Toy sequence-to-sequence tasks, generated from a seed: addition and dates.

* ``addition``: questions like ``"16+75"`` (operands of 1 to 3 digits), answers
  like ``"_91"``; ``_`` is the start symbol the decoder begins with.
* ``dates``: dates written by people in many styles (``"Sept. 27, 1994"``,
  ``"27/09/1994"``, ``"tuesday 27 september 94"`` ...), answers in ISO form
  ``"_1994-09-27"``.

Every string is padded with spaces to the task's fixed width and turned into
character ids. ``load_data(name)`` returns ``(x_train, t_train), (x_test,
t_test)`` as host integer arrays of shapes (N, T_in) and (N, T_out);
``get_vocab(name)`` returns ``(char_to_id, id_to_char)``. ``reverse=True``
reverses each question, which makes the task easier for a plain encoder.
Nothing is downloaded; the same seed always gives the same data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course import backend, validate

Array = Any
START = "_"
PAD = " "

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_FIRST, _LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)  # two-digit years are unambiguous here


# --------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------


def _operands(gen: Any, size: int) -> Array:
    """Integers with 1, 2 or 3 digits, the digit count chosen uniformly."""
    np = backend.host()
    digits = gen.integers(1, 4, size)
    low = np.where(digits == 1, 0, 10 ** (digits - 1))
    return gen.integers(low, 10**digits)


# Operands have 1 to 3 digits: 0..999, so there are 1000 * 1000 distinct questions.
ADDITION_MAX = 1000 * 1000
_DRAW_ROUNDS = 8  # rounds of random draws before the rest is picked from the pairs not yet drawn


def addition_pairs(n: int = 50_000, seed: int = 1984) -> list[tuple[str, str]]:
    """n distinct (question, answer) pairs such as ("16+75", "_91"); n is at most ``ADDITION_MAX``.

    Pairs are drawn in rounds of 2n random operand pairs, keeping each new pair
    the first time it comes up. Where that is slow - close to the maximum,
    almost every draw repeats a pair already kept - the rest are picked at
    random among the pairs not drawn yet, so any n up to the maximum finishes
    in a bounded number of steps.
    """
    n = validate.check_count(n, "addition_pairs", "n", minimum=0, maximum=ADDITION_MAX)
    np = backend.host()
    gen = np.random.default_rng(seed)
    seen = np.zeros(ADDITION_MAX, dtype=bool)
    chosen: list[Array] = []
    count = 0
    # Far from the maximum a few rounds always suffice; close to it most draws are repeats.
    for _ in range(_DRAW_ROUNDS if n <= ADDITION_MAX // 2 else 1):
        if count == n:
            break
        a, b = _operands(gen, 2 * n), _operands(gen, 2 * n)
        keys = a * 1000 + b
        fresh = keys[~seen[keys]]
        _, first = np.unique(fresh, return_index=True)
        new = fresh[np.sort(first)][: n - count]  # new pairs in the order they were drawn
        seen[new] = True
        chosen.append(new)
        count += new.size
    if count < n:
        chosen.append(gen.permutation(np.flatnonzero(~seen))[: n - count])
    keys = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    firsts, seconds = (keys // 1000).tolist(), (keys % 1000).tolist()
    return [(f"{a}+{b}", f"{START}{a + b}") for a, b in zip(firsts, seconds, strict=True)]


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _month_abbr(m: int) -> str:
    return "Sept" if m == 9 else _MONTHS[m - 1][:3]


# Each style writes a date the way people do; two-digit years stand for 1950-2049.
_DATE_STYLES: list[Callable[[dt.date], str]] = [
    lambda d: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_month_abbr(d.month)}. {d.day}, {d.year}",
    lambda d: f"{_month_abbr(d.month)} {d.day} {d.year}",
    lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day} {_month_abbr(d.month)} {d.year % 100:02d}",
    lambda d: f"{_ordinal(d.day)} of {_MONTHS[d.month - 1]}, {d.year}",
    lambda d: f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_DAYS[d.weekday()][:3]} {d.day} {_month_abbr(d.month)} {d.year}",
    lambda d: f"{_DAYS[d.weekday()].lower()} {d.day} {_MONTHS[d.month - 1].lower()} {d.year % 100:02d}",
    lambda d: f"{_MONTHS[d.month - 1].upper()} {d.day}, {d.year}",
    lambda d: f"{d.month}/{d.day}/{d.year}",  # US: month first, slashes
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",  # European: day first, dots
    lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}",
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    lambda d: f"{d.day}-{_month_abbr(d.month).upper()}-{d.year}",
]


def date_pairs(n: int = 50_000, seed: int = 1984) -> list[tuple[str, str]]:
    """n (question, answer) pairs such as ("Sept. 27, 1994", "_1994-09-27"); n is at most ``DATES_MAX``.

    Each pair is a random date of 1950-2049 in a random style (drawn
    independently, so a pair can come up twice).
    """
    n = validate.check_count(n, "date_pairs", "n", minimum=0, maximum=DATES_MAX)
    gen = backend.host().random.default_rng(seed)
    span = (_LAST - _FIRST).days + 1
    offsets = gen.integers(0, span, n).tolist()
    styles = gen.integers(0, len(_DATE_STYLES), n).tolist()
    pairs = []
    for off, style in zip(offsets, styles, strict=True):
        day = _FIRST + dt.timedelta(days=off)
        pairs.append((_DATE_STYLES[style](day), f"{START}{day.isoformat()}"))
    return pairs


# Every date of the range in every style: the number of distinct questions.
DATES_MAX = ((_LAST - _FIRST).days + 1) * len(_DATE_STYLES)


# --------------------------------------------------------------------------
# Vocabularies and encoding
# --------------------------------------------------------------------------

_TASKS: dict[str, dict[str, Any]] = {
    "addition": {"make": addition_pairs, "width": (7, 5), "max_n": ADDITION_MAX},
    "dates": {"make": date_pairs, "width": (29, 11), "max_n": DATES_MAX},
}


def _task(name: str) -> dict[str, Any]:
    key = Path(str(name)).stem.lower()  # "addition.txt" works too, as in the book
    if key not in _TASKS:
        raise ValueError(f"Unknown sequence task {name!r}: choose one of {', '.join(_TASKS)}.")
    return _TASKS[key]


def _alphabet(name: str) -> str:
    """Every character the task can produce, padding first (id 0), then sorted."""
    if _task(name)["make"] is addition_pairs:
        chars = set("0123456789+")
    else:
        names = _MONTHS + _DAYS
        text = "".join(names) + "".join(n.upper() + n.lower() for n in names) + "0123456789,./- of"
        chars = set(text + "thstndrd")
    chars |= {START}
    chars.discard(PAD)
    return PAD + "".join(sorted(chars))


def get_vocab(name: str = "addition") -> tuple[dict[str, int], dict[int, str]]:
    """(char_to_id, id_to_char) of a task; the padding space has id 0."""
    alphabet = _alphabet(name)
    return {c: i for i, c in enumerate(alphabet)}, dict(enumerate(alphabet))


def encode(strings: list[str], char_to_id: dict[str, int], width: int) -> Array:
    """Strings -> (N, width) int32 ids, padded with spaces on the right."""
    np = backend.host()
    out = np.full((len(strings), width), char_to_id[PAD], dtype=np.int32)
    for i, s in enumerate(strings):
        if len(s) > width:
            raise ValueError(f"{s!r} is longer than the width {width}.")
        unknown = set(s) - set(char_to_id)
        if unknown:
            raise ValueError(f"{s!r} has characters outside the vocabulary: {sorted(unknown)}.")
        out[i, : len(s)] = [char_to_id[c] for c in s]
    return out


def decode(ids: Array, id_to_char: dict[int, str]) -> list[str]:
    """(N, T) ids -> strings with the padding stripped."""
    rows = backend.to_host(ids).tolist()
    unknown = sorted({int(i) for row in rows for i in row} - set(id_to_char))
    if unknown:
        raise validate.IdRangeError(
            f"decode: ids {unknown[:10]} are not in id_to_char (ids 0..{len(id_to_char) - 1}); decode with "
            "the vocabulary of the same task (get_vocab(name))."
        )
    return ["".join(id_to_char[int(i)] for i in row).rstrip(PAD) for row in rows]


def lengths(x: Array, pad_id: int = 0) -> Array:
    """(N,) number of characters up to the last non-padding one of each row of x (N, T)."""
    xp = backend.array_module(x)
    real = x != pad_id
    T = x.shape[1]
    last = T - 1 - real[:, ::-1].argmax(axis=1)
    return xp.where(real.any(axis=1), last + 1, 0)


def reverse_questions(x: Array, pad_id: int = 0) -> Array:
    """Reverse each row's characters, keeping the padding at the right end.

    x: (N, T) ids, right-padded. "16+75  " becomes "57+61  ".
    """
    xp = backend.array_module(x)
    T = x.shape[1]
    L = lengths(x, pad_id)[:, None]
    t = xp.arange(T)[None, :]
    idx = xp.where(t < L, L - 1 - t, t)
    return xp.take_along_axis(x, idx, axis=1)


def _split(x: Array, t: Array, test_size: int, seed: int) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    if not 0 < test_size < len(x):
        raise ValueError(f"test_size must be between 1 and {len(x) - 1}, got {test_size}.")
    order = backend.host().random.default_rng(seed + 1).permutation(len(x))
    x, t = x[order], t[order]
    return (x[test_size:], t[test_size:]), (x[:test_size], t[:test_size])


def _check_size(task: str, n: Any, max_n: int) -> int:
    """n as an int, if the task has that many distinct questions; else an error naming the maximum."""
    n = validate.check_count(n, "load_data", "n", minimum=2)
    if n > max_n:
        raise validate.InputError(
            f"load_data({task!r}, n={n}): the {task} task has at most {max_n:,} distinct questions, so n "
            f"can be at most {max_n}. Ask for fewer examples (the default is 50,000)."
        )
    return n


def load_data(
    name: str = "addition",
    seed: int = 1984,
    n: int = 50_000,
    test_size: int = 5_000,
    reverse: bool = False,
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Generate a task and split it: ((x_train, t_train), (x_test, t_test)).

    x: (N, T_in) question ids, t: (N, T_out) answer ids starting with the
    start symbol ``_``; int32 host arrays. addition: T_in 7, T_out 5;
    dates: T_in 29, T_out 11. ``reverse=True`` reverses the characters of
    every question (padding stays on the right), the trick that helps a
    plain encoder.
    """
    task = _task(name)
    key = Path(str(name)).stem.lower()
    seed = validate.check_count(seed, "load_data", "seed", minimum=0)
    n = _check_size(key, n, task["max_n"])
    validate.check_count(test_size, "load_data", "test_size", minimum=1, maximum=n - 1)
    pairs = task["make"](n=n, seed=seed)
    char_to_id, _ = get_vocab(name)
    width_in, width_out = task["width"]
    x = encode([q for q, _ in pairs], char_to_id, width_in)
    t = encode([a for _, a in pairs], char_to_id, width_out)
    if reverse:
        x = reverse_questions(x, char_to_id[PAD])
    return _split(x, t, test_size, seed)


def load_pairs_file(
    path: str | Path, test_size: int = 0, seed: int = 1984, reverse: bool = False
) -> tuple[tuple[Array, Array], tuple[Array, Array] | None, dict[str, int], dict[int, str]]:
    """Read your own pairs: one per line, ``question<TAB>answer`` or ``question _answer``.

    The answer gets the start symbol ``_`` if it lacks one. Returns
    ((x, t), test split or None, char_to_id, id_to_char); widths are the
    longest question and answer. Malformed lines are reported with their
    line numbers.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No pairs file at {path}.")
    pairs, problems = [], []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        if "\t" in line:
            question, _, answer = line.partition("\t")
        elif START in line:
            cut = line.index(START)
            question, answer = line[:cut], line[cut:]
        else:
            problems.append(f"line {number}: no TAB and no '{START}' between question and answer: {raw!r}")
            continue
        question, answer = question.rstrip(), answer.strip()
        if not question or not answer.lstrip(START):
            problems.append(f"line {number}: empty question or answer: {raw!r}")
            continue
        pairs.append((question, answer if answer.startswith(START) else START + answer))
    if problems:
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ValueError(f"{path} has malformed lines:\n" + "\n".join(problems[:10]) + more)
    if not pairs:
        raise ValueError(f"{path} holds no pairs.")
    chars = sorted({c for q, a in pairs for c in q + a} - {PAD, START})
    alphabet = PAD + START + "".join(chars)
    char_to_id, id_to_char = {c: i for i, c in enumerate(alphabet)}, dict(enumerate(alphabet))
    x = encode([q for q, _ in pairs], char_to_id, max(len(q) for q, _ in pairs))
    t = encode([a for _, a in pairs], char_to_id, max(len(a) for _, a in pairs))
    if reverse:
        x = reverse_questions(x, char_to_id[PAD])
    if test_size:
        train, test = _split(x, t, test_size, seed)
        return train, test, char_to_id, id_to_char
    return (x, t), None, char_to_id, id_to_char
