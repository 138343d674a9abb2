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
import functools
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


# --------------------------------------------------------------------------
# Dates as people write them
# --------------------------------------------------------------------------
#
# A date is drawn uniformly from 1950-2049 and written by a small grammar:
# a kind (month first in words, day first in words, all numbers in the data
# set's numeric order, year first), then independent choices for each part
# (month name full or abbreviated, with or without a period; day plain,
# two-digit or ordinal; "the" and "of"; commas; 4-digit, 2-digit or '99
# years; an optional weekday; letter case; the odd doubled space). The parts
# are chosen for whole arrays at once and joined with NumPy's string
# functions, so 50,000 pairs take a fraction of a second.

TWO_DIGIT_PIVOT = 50  # a two-digit year yy < 50 is 20yy, yy >= 50 is 19yy: the span 1950-2049
DATES_WIDTH = 29  # the longest question; longer draws lose their weekday or their doubled spaces


def two_digit_year(yy: int) -> int:
    """The four-digit year a two-digit one stands for here: 50-99 -> 1950-1999, 00-49 -> 2000-2049."""
    return 1900 + yy if yy >= TWO_DIGIT_PIVOT else 2000 + yy


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _month_abbr(m: int) -> str:
    return _MONTHS[m - 1][:3]


@functools.cache
def _calendar() -> tuple[Array, ...]:
    """(year, month, day, weekday, iso) of every date of the span, from ``datetime``; weekday 0 = Monday."""
    np = backend.host()
    days = [_FIRST + dt.timedelta(days=i) for i in range((_LAST - _FIRST).days + 1)]
    columns = (
        [d.year for d in days],
        [d.month for d in days],
        [d.day for d in days],
        [d.weekday() for d in days],
    )
    iso = np.array([START + d.isoformat() for d in days])
    return (*(np.array(c, dtype=np.int64) for c in columns), iso)


@functools.cache
def _words() -> dict[str, Array]:
    """Lookup tables of the written parts, Title case; rows are forms, columns the month, weekday or day."""
    np = backend.host()
    full = _MONTHS
    abbr = [_month_abbr(m) for m in range(1, 13)]
    sept = ["Sept" if m == 9 else a for m, a in zip(range(1, 13), abbr, strict=True)]
    dotted = [a if a == "May" else a + "." for a in abbr]  # "May" is already the whole name
    months = [full, abbr, dotted, sept, [a if a == "May" else a + "." for a in sept]]
    weekdays = [_DAYS, [w[:3] for w in _DAYS], [w[:3] + "." for w in _DAYS]]
    days = [[""] + [str(d) for d in range(1, 32)], [""] + [f"{d:02d}" for d in range(1, 32)]]
    days.append([""] + [_ordinal(d) for d in range(1, 32)])
    numbers = [[""] + [str(k) for k in range(1, 32)], [""] + [f"{k:02d}" for k in range(1, 32)]]
    return {
        "month": np.array(months),
        "weekday": np.array(weekdays),
        "day": np.array(days),
        "number": np.array(numbers),
        "year2": np.array([f"{y % 100:02d}" for y in range(10000)]),
        "year4": np.array([f"{y:04d}" for y in range(10000)]),
    }


def _pick(gen: Any, options: list[Any], weights: list[float], size: int) -> Array:
    """size draws among options with the given (unnormalised) weights, as an array."""
    np = backend.host()
    p = np.asarray(weights, dtype=float)
    return np.asarray(options)[gen.choice(len(options), size=size, p=p / p.sum())]


def _join(*parts: Array) -> Array:
    """Elementwise concatenation of string arrays (or single strings)."""
    np = backend.host()
    out = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out


def _year(gen: Any, year: Array, apostrophe: float, four: float = 0.68) -> Array:
    """Years as 1994 (weight ``four``), 94, or '94 (weight ``apostrophe``)."""
    np = backend.host()
    w = _words()
    form = gen.choice(3, size=year.size, p=np.array([four, 1 - four - apostrophe, apostrophe]))
    short = w["year2"][year]
    return np.where(form == 0, w["year4"][year], np.where(form == 1, short, _join("'", short)))


def _day_in_words(gen: Any, day: Array) -> tuple[Array, Array]:
    """(day as 3 / 03 / 3rd, whether it is an ordinal)."""
    form = _pick(gen, [0, 1, 2], [0.42, 0.1, 0.48], day.size)
    return _words()["day"][form, day], form == 2


def _month_in_words(gen: Any, month: Array) -> Array:
    """March / Mar / Mar. / (Sept / Sept. for September)."""
    return _words()["month"][_pick(gen, [0, 1, 2, 3, 4], [0.4, 0.22, 0.2, 0.09, 0.09], month.size), month - 1]


def _month_first(gen: Any, year: Array, month: Array, day: Array) -> Array:
    """March 3, 1999 / Mar. 3rd 1999 / March the 3rd, '99 ..."""
    n = year.size
    day_text, ordinal = _day_in_words(gen, day)
    the = _pick(gen, ["", "the "], [0.75, 0.25], n)
    the[~ordinal] = ""
    comma = _pick(gen, [", ", " ", ","], [0.62, 0.33, 0.05], n)
    return _join(_month_in_words(gen, month), " ", the, day_text, comma, _year(gen, year, 0.1))


def _day_first(gen: Any, year: Array, month: Array, day: Array) -> Array:
    """3 March 1999 / the 3rd of March, 1999 / 03-Mar-99 / 03MAR1999 ..."""
    np = backend.host()
    n = year.size
    day_text, ordinal = _day_in_words(gen, day)
    of = _pick(gen, ["", " of"], [0.45, 0.55], n)
    of[~ordinal] = ""
    the = _pick(gen, ["", "the "], [0.6, 0.4], n)
    the[of == ""] = ""
    comma = _pick(gen, [" ", ", ", ","], [0.68, 0.27, 0.05], n)
    words = _join(the, day_text, of, " ", _month_in_words(gen, month), comma, _year(gen, year, 0.1))
    # A quarter compact: with no spaces to mark the parts, the model learns them from examples only.
    return np.where(gen.random(n) < 0.25, _compact(gen, year, month, day), words)


def _compact(gen: Any, year: Array, month: Array, day: Array) -> Array:
    """03-Mar-99, 3MAR1999, 03MAR99: military and log styles, parts joined by hyphens or nothing.

    These styles have conventions of their own: the month is almost always
    abbreviated, military dates (03MAR99) are written in capitals with
    two-digit years, and log files write 03-Mar-1999 or 03-MAR-99. The case
    drawn here is the style's own; ``_cased`` may still change the whole
    question later, as for every style.
    """
    np = backend.host()
    n = year.size
    # Half unseparated: digits next to letters are harder to tell apart than 03-MAR-99.
    sep = _pick(gen, ["-", ""], [0.5, 0.5], n)
    short = _words()["month"][_pick(gen, [0, 1], [0.08, 0.92], n), month - 1]
    short = np.where(gen.random(n) < 0.6, np.strings.upper(short), short)
    compact = _join(_words()["number"][_pick(gen, [0, 1], [0.4, 0.6], n), day], sep, short, sep)
    return _join(compact, _year(gen, year, 0.0, four=0.5))


def _numeric(gen: Any, year: Array, month: Array, day: Array, day_first: bool) -> Array:
    """3/17/99, 03-17-1999, 3.17.1999 (US, month first) or 17/3/99 ... (day first): one order per data set."""
    n = year.size
    padded = _pick(gen, [0, 1], [0.55, 0.45], n)
    first, second = (day, month) if day_first else (month, day)
    number = _words()["number"]
    sep = _pick(gen, ["/", "-", "."], [0.6, 0.25, 0.15], n)
    return _join(number[padded, first], sep, number[padded, second], sep, _year(gen, year, 0.0))


def _year_first(gen: Any, year: Array, month: Array, day: Array) -> Array:
    """1999-03-17, 1999/3/17, 1999.03.17, 19990317: the year first is read the same everywhere."""
    n = year.size
    padded = _pick(gen, [0, 1], [0.35, 0.65], n)
    # 19990317 is the hardest to read (eight digits, parts found by counting): a fifth of them.
    sep = _pick(gen, ["-", "/", ".", ""], [0.38, 0.3, 0.12, 0.2], n)
    padded[sep == ""] = 1
    number = _words()["number"]
    return _join(_words()["year4"][year], sep, number[padded, month], sep, number[padded, day])


def _weekday(gen: Any, weekday: Array) -> Array:
    """Wednesday, / Wed / Wed., ... or nothing (most dates), to put in front of a date."""
    np = backend.host()
    n = weekday.size
    name = _words()["weekday"][_pick(gen, [0, 1, 2], [0.5, 0.35, 0.15], n), weekday]
    sep = _pick(gen, [", ", " ", ","], [0.6, 0.35, 0.05], n)
    return np.where(gen.random(n) < 0.35, _join(name, sep), "")


def _cased(gen: Any, text: Array) -> Array:
    """Title case as written (most), all lower case, or ALL UPPER CASE."""
    np = backend.host()
    case = _pick(gen, [0, 1, 2], [0.56, 0.22, 0.22], text.size)
    text = text.copy()
    for k, change in (
        (1, np.strings.lower),
        (2, np.strings.upper),
    ):  # slow functions: only the rows they change
        text[case == k] = change(text[case == k])
    return text


def _loosened(gen: Any, text: Array, width: int) -> Array:
    """A few questions get every space doubled, as careless typing does, where they still fit."""
    np = backend.host()
    loose = np.strings.replace(text, " ", "  ")
    keep = (gen.random(text.size) < 0.05) & (np.strings.str_len(loose) <= width)
    return np.where(keep, loose, text)


def date_pairs(n: int = 50_000, seed: int = 1984, day_first: bool = False) -> list[tuple[str, str]]:
    """n (question, answer) pairs such as ("Sept. 27, 1994", "_1994-09-27"); n is at most ``DATES_MAX``.

    Each pair is a random date of 1950-2049 written in a randomly composed
    style (drawn independently, so a pair can come up twice): a month or
    weekday name full or abbreviated (with or without a period), days plain,
    two-digit or ordinal, "the"/"of", commas, lower/Title/UPPER case, four- or
    two-digit years. A two-digit year yy stands for 19yy if yy >= 50 and for
    20yy otherwise (``two_digit_year``). The weekday, when written, is the
    true one (from ``datetime``). All-number dates follow one order per data
    set: month first as in the US (``4/5/99`` is April 5) by default, day first
    with ``day_first=True`` (``4/5/99`` is 4 May); they are never mixed, as
    ``4/5/99`` could not be read. Year-first numbers (``1999-04-05``) appear
    in both. Questions are at most ``DATES_WIDTH`` characters.
    """
    n = validate.check_count(n, "date_pairs", "n", minimum=0, maximum=DATES_MAX)
    np = backend.host()
    gen = np.random.default_rng(seed)
    years, months, days, weekdays, iso = _calendar()
    pick = gen.integers(0, years.size, n)
    year, month, day, weekday = years[pick], months[pick], days[pick], weekdays[pick]
    kind = _pick(gen, [0, 1, 2, 3], [0.34, 0.3, 0.22, 0.14], n)
    writers = [_month_first, _day_first, functools.partial(_numeric, day_first=bool(day_first)), _year_first]
    body = np.empty(n, dtype="<U40")
    for k, write in enumerate(writers):
        rows = kind == k
        body[rows] = write(gen, year[rows], month[rows], day[rows])
    body = _loosened(gen, body, DATES_WIDTH)
    dated = _join(_weekday(gen, weekday), body)
    questions = _cased(gen, np.where(np.strings.str_len(dated) <= DATES_WIDTH, dated, body))
    return list(zip(questions.tolist(), iso[pick].tolist(), strict=True))


# Distinct dates times the styles would far exceed memory: this caps a data set's size instead.
DATES_MAX = 5_000_000


# --------------------------------------------------------------------------
# Vocabularies and encoding
# --------------------------------------------------------------------------

_TASKS: dict[str, dict[str, Any]] = {
    "addition": {
        "make": addition_pairs,
        "width": (7, 5),
        "max_n": ADDITION_MAX,
        "limit": "distinct questions",
    },
    "dates": {
        "make": date_pairs,
        "width": (DATES_WIDTH, 11),
        "max_n": DATES_MAX,
        "limit": "questions in one data set (a cap that keeps it in memory)",
    },
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
        # Every letter in both cases, not only those of the names: any English date can be encoded.
        letters = "abcdefghijklmnopqrstuvwxyz"
        chars = set(letters + letters.upper() + "0123456789,./-'")
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
    if not strings:
        return np.full((0, width), char_to_id[PAD], dtype=np.int32)
    text = np.asarray(strings, dtype=str)
    too_long = np.flatnonzero(np.strings.str_len(text) > width)
    if too_long.size:
        raise ValueError(f"{strings[too_long[0]]!r} is longer than the width {width}.")
    # Code points of the fixed-width strings ("\0" pads them), mapped through a lookup table.
    points = np.asarray(strings, dtype=f"<U{width}").view(np.uint32).reshape(len(strings), width)
    table = np.full(max(int(points.max()), *map(ord, char_to_id)) + 1, -1, dtype=np.int64)
    table[[ord(c) for c in char_to_id]] = list(char_to_id.values())
    table[0] = char_to_id[PAD]
    out = table[points]
    bad = np.flatnonzero((out < 0).any(axis=1))
    if bad.size:
        s = strings[bad[0]]
        unknown = set(s) - set(char_to_id)
        raise ValueError(f"{s!r} has characters outside the vocabulary: {sorted(unknown)}.")
    return out.astype(np.int32)


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


def _check_size(task: str, n: Any, max_n: int, limit: str) -> int:
    """n as an int, if the task allows that many questions; else an error naming the maximum and why."""
    n = validate.check_count(n, "load_data", "n", minimum=2)
    if n > max_n:
        raise validate.InputError(
            f"load_data({task!r}, n={n}): the {task} task has at most {max_n:,} {limit}, so n "
            f"can be at most {max_n}. Ask for fewer examples (the default is 50,000)."
        )
    return n


def load_data(
    name: str = "addition",
    seed: int = 1984,
    n: int = 50_000,
    test_size: int = 5_000,
    reverse: bool = False,
    day_first: bool = False,
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Generate a task and split it: ((x_train, t_train), (x_test, t_test)).

    x: (N, T_in) question ids, t: (N, T_out) answer ids starting with the
    start symbol ``_``; int32 host arrays. addition: T_in 7, T_out 5;
    dates: T_in 29, T_out 11. ``reverse=True`` reverses the characters of
    every question (padding stays on the right), the trick that helps a
    plain encoder. ``day_first=True`` (dates only) writes all-number dates
    day first (``4/5/99`` is 4 May 1999) instead of the US month first.
    """
    task = _task(name)
    key = Path(str(name)).stem.lower()
    seed = validate.check_count(seed, "load_data", "seed", minimum=0)
    n = _check_size(key, n, task["max_n"], task["limit"])
    validate.check_count(test_size, "load_data", "test_size", minimum=1, maximum=n - 1)
    if day_first and task["make"] is not date_pairs:
        raise validate.InputError(f"load_data({key!r}, day_first=True): only the dates task has a day order.")
    pairs = task["make"](n=n, seed=seed, **({"day_first": True} if day_first else {}))
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
