"""Dates written outside the generator: a held-out check of the dates task.

``samples/dates_held_out.txt`` holds dates written in formats that
``sequence.date_pairs`` was not built from, grouped by format family, one
``family<TAB>question<TAB>answer`` per line. The answers come from
``datetime`` (the ISO form of the date that was rendered), never from the
generator. Numeric dates follow the task's default US order (month first);
two-digit years follow its pivot (``sequence.two_digit_year``: 50-99 are
19xx, 00-49 are 20xx), so every date lies in 1950-2049.

``load_held_out()`` reads the list. ``python -m course.datasets.held_out_dates``
rewrites the file from the families below: each family is a few templates
in ``strftime`` notation, plus three fields ``strftime`` lacks: ``{d}`` and
``{m}`` (day and month without a leading zero) and ``{th}`` (the ordinal
day, ``3rd``).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

PATH = Path(__file__).with_name("samples") / "dates_held_out.txt"
PER_FAMILY = 26
SEED = 2024
_FIRST, _LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)

# family: (templates, letter case, months allowed)
FAMILIES: dict[str, tuple[tuple[str, ...], str, tuple[int, ...]]] = {
    "the Nth of Month": (("the {th} of %B, %Y", "the {th} of %B %Y", "The {th} of %b. %Y"), "as is", ()),
    "Month the Nth": (("%B the {th}, %Y", "%b the {th} %Y", "%B the {th} '%y"), "as is", ()),
    "weekday, day month year": (("%a {d} %b %Y", "%A {d} %B %Y", "%A, {th} %B %Y"), "as is", ()),
    "WEEKDAY, MONTH D, YYYY": (("%A, %B {d}, %Y", "%a, %b {d}, %Y"), "upper", ()),
    "lower-case month abbreviations": (("%b {d}, %Y", "%b {d} %Y", "%a %b {d} %Y"), "lower", ()),
    "CAPITAL MONTHS": (("%b {d}, %Y", "%B {d}, %Y", "{d} %B %Y"), "upper", ()),
    "apostrophe years": (("%b {th} '%y", "%B {d}, '%y", "{d} %b '%y"), "as is", ()),
    "US m/d/yy": (("{m}/{d}/%y", "%m/%d/%y"), "as is", ()),
    "US m-d-yyyy and m.d.yy": (("%m-%d-%Y", "{m}-{d}-%Y", "{m}.{d}.%y"), "as is", ()),
    "year first": (("%Y/{m}/{d}", "%Y-{m}-{d}", "%Y.%m.%d", "%Y%m%d"), "as is", ()),
    "military and log styles": (("%d%b%y", "{d}-%b-%Y", "%d-%b-%y"), "upper", ()),
    "loose spacing": (("%B {d},%Y", "%b  {d}, %Y", "{d}  %B  %Y", "%B {d} %Y"), "as is", ()),
    "abbreviations with periods": (("%a., %b. {d}, %Y", "%b. {th}, %Y", "{d} %b. %Y"), "as is", ()),
    "Sept.": (("Sept. {d}, %Y", "Sept {th} %Y", "{d} Sept. %Y"), "as is", (9,)),
}


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def render(template: str, date: dt.date, case: str = "as is") -> str:
    """A date written by a template: ``strftime`` fields, then ``{d}``, ``{m}``, ``{th}``, then the case."""
    text = date.strftime(template).format(d=date.day, m=date.month, th=_ordinal(date.day))
    return {"as is": text, "upper": text.upper(), "lower": text.lower()}[case]


def _dates(rng: random.Random, months: tuple[int, ...], count: int) -> list[dt.date]:
    span = (_LAST - _FIRST).days
    out: list[dt.date] = []
    while len(out) < count:
        date = _FIRST + dt.timedelta(days=rng.randrange(span + 1))
        if not months or date.month in months:
            out.append(date)
    return out


def build(per_family: int = PER_FAMILY, seed: int = SEED) -> list[tuple[str, str, str]]:
    """(family, question, answer) rows: per_family dates per family, templates taken in turn."""
    rng = random.Random(seed)
    rows = []
    for family, (templates, case, months) in FAMILIES.items():
        for i, date in enumerate(_dates(rng, months, per_family)):
            question = render(templates[i % len(templates)], date, case)
            rows.append((family, question, "_" + date.isoformat()))
    return rows


def write(path: Path = PATH) -> int:
    """Write the list to path; return the number of rows."""
    rows = build()
    path.write_text("".join(f"{f}\t{q}\t{a}\n" for f, q, a in rows), encoding="utf-8")
    return len(rows)


def load_held_out(path: Path = PATH) -> tuple[list[str], list[str], list[str]]:
    """(questions, answers, families) of the held-out list; answers start with ``_``."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line]
    families, questions, answers = (list(column) for column in zip(*rows, strict=True))
    return questions, answers, families


if __name__ == "__main__":
    print(f"{write()} dates written to {PATH}")
