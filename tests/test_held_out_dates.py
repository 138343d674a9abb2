"""The held-out date list: every answer re-derived by datetime from the question alone."""

from __future__ import annotations

import collections
import datetime as dt
import re

from course.datasets import held_out_dates, sequence

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WORDS = [
    f"{a} {b} {y}" for a, b in (("%B", "%d"), ("%b", "%d"), ("%d", "%B"), ("%d", "%b")) for y in ("%Y", "%y")
]
_YEAR_FIRST = [f"%Y{s}%m{s}%d" for s in "/-."] + ["%Y%m%d"]


def _patterns(day_first: bool) -> list[str]:
    """strptime patterns of one numeric order only: the list, like the task's default, is month first."""
    first, second = ("%d", "%m") if day_first else ("%m", "%d")
    return _WORDS + [f"{first}{s}{second}{s}{y}" for s in "/-." for y in ("%Y", "%y")] + _YEAR_FIRST


def _read(question: str, day_first: bool = False) -> dt.date:
    """The one date a question can mean, read with datetime.strptime after plain clean-up."""
    q = question.lower()
    q = re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", q)  # 3rd -> 3
    q = re.sub(r"\bsept\b", "sep", re.sub(r"\b(the|of)\b", " ", q))
    q = re.sub(r"(?<=[a-z])\.", " ", q).replace(",", " ").replace("'", " ")
    q = re.sub(r"(?<=[a-z])-|-(?=[a-z])", " ", q)  # 3-mar-1999
    q = re.sub(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)", " ", q)  # 03mar99
    words = q.split()
    weekday = None
    if words[0][:3] in {w[:3] for w in _WEEKDAYS}:
        weekday = [w[:3] for w in _WEEKDAYS].index(words.pop(0)[:3])
    text = " ".join(words)
    found = set()
    for pattern in _patterns(day_first):
        try:
            date = dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if "%y" in pattern:  # the task's pivot, not strptime's
            date = date.replace(year=sequence.two_digit_year(date.year % 100))
        found.add(date)
    assert len(found) == 1, f"{question!r} reads as {found or 'nothing'}"
    date = found.pop()
    assert weekday is None or weekday == date.weekday(), f"{question!r}: wrong weekday"
    return date


def test_every_answer_is_the_date_its_question_writes():
    questions, answers, _ = held_out_dates.load_held_out()
    assert len(questions) >= 300
    for question, answer in zip(questions, answers, strict=True):
        assert answer == "_" + _read(question).isoformat(), question


def test_the_list_is_grouped_in_families_and_fits_the_task():
    questions, _, families = held_out_dates.load_held_out()
    counts = collections.Counter(families)
    assert len(counts) >= 10 and min(counts.values()) >= 20
    char_to_id, _ = sequence.get_vocab("dates")
    x = sequence.encode(questions, char_to_id, sequence.DATES_WIDTH)  # raises on a long or foreign question
    assert x.shape == (len(questions), 29)
    assert len(set(questions)) == len(questions)


def test_the_committed_file_is_what_the_script_writes():
    rows = held_out_dates.build()
    questions, answers, families = held_out_dates.load_held_out()
    assert list(zip(families, questions, answers, strict=True)) == rows


def test_the_reader_reads_by_the_order_it_is_given_and_checks_weekdays():
    assert _read("4/5/99") == dt.date(1999, 4, 5) and _read("4/5/99", day_first=True) == dt.date(1999, 5, 4)
    assert _read("the 3rd of March, '49") == dt.date(2049, 3, 3)
    try:
        _read("Tuesday, March 3, 1999")  # a Wednesday
    except AssertionError:
        pass
    else:
        raise AssertionError("a wrong weekday must be caught")


def test_the_generators_questions_read_the_same_in_their_own_order():
    for day_first in (False, True):
        for question, answer in sequence.date_pairs(1000, seed=5, day_first=day_first):
            assert answer == "_" + _read(question, day_first).isoformat(), question
