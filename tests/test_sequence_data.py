"""The generated addition and date tasks, and the reader for your own pairs."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from course.datasets import sequence


def test_addition_answers_are_right_and_the_split_is_45000_5000():
    (x, t), (xt, tt) = sequence.load_data("addition")
    assert x.shape == (45000, 7) and t.shape == (45000, 5)
    assert xt.shape == (5000, 7) and tt.shape == (5000, 5)
    _, id_to_char = sequence.get_vocab("addition")
    questions = sequence.decode(np.concatenate([x, xt]), id_to_char)
    answers = sequence.decode(np.concatenate([t, tt]), id_to_char)
    assert len(set(questions)) == 50000  # distinct questions
    for q, a in zip(questions[:2000], answers[:2000], strict=True):
        left, right = q.split("+")
        assert a == "_" + str(int(left) + int(right))
    assert {len(q.split("+")[0]) for q in questions} == {1, 2, 3}


def test_same_seed_same_data_other_seed_other_data():
    a = sequence.load_data("addition", seed=3, n=500, test_size=50)
    b = sequence.load_data("addition", seed=3, n=500, test_size=50)
    c = sequence.load_data("addition", seed=4, n=500, test_size=50)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert not np.array_equal(a[0][0], c[0][0])


def test_dates_map_to_the_iso_date():
    (x, t), _ = sequence.load_data("dates", n=3000, test_size=100)
    _, id_to_char = sequence.get_vocab("dates")
    questions, answers = sequence.decode(x, id_to_char), sequence.decode(t, id_to_char)
    assert x.shape[1] == 29 and t.shape[1] == 11
    assert all(a.startswith("_") and len(a) == 11 for a in answers)
    for q, a in zip(questions, answers, strict=True):
        day = dt.date.fromisoformat(a[1:])
        assert dt.date(1950, 1, 1) <= day <= dt.date(2049, 12, 31)
        numbers = re.fullmatch(r"(?:\w+\.?,? )?(\d{1,2})([/.-])(\d{1,2})\2(\d\d|\d{4})", q)
        if numbers:  # US style: month first, whatever the separator
            month, dd, year = numbers.group(1, 3, 4)
            assert (int(month), int(dd)) == (day.month, day.day), q
            assert sequence.two_digit_year(int(year) % 100) == day.year, q
    assert len({q[:3] for q in questions}) > 20  # many styles


def test_day_first_changes_only_the_numeric_order():
    us = sequence.date_pairs(2000, seed=7)
    eu = sequence.date_pairs(2000, seed=7, day_first=True)
    assert [a for _, a in us] == [a for _, a in eu]
    pattern = re.compile(r"(?:^|\s)(\d{1,2})[/.-](\d{1,2})[/.-]\d+$")
    swapped = 0
    for (q_us, a), (q_eu, _) in zip(us, eu, strict=True):
        day = dt.date.fromisoformat(a[1:])
        m_us, m_eu = pattern.search(q_us), pattern.search(q_eu)
        if m_us:
            assert (int(m_us[1]), int(m_us[2])) == (day.month, day.day), q_us
            assert (int(m_eu[1]), int(m_eu[2])) == (day.day, day.month), q_eu
            swapped += 1
    assert swapped > 200
    with pytest.raises(ValueError, match="only the dates task"):
        sequence.load_data("addition", n=100, test_size=10, day_first=True)


def test_dates_cover_the_ways_people_write_them():
    pairs = sequence.date_pairs(20_000, seed=3)
    questions = [q for q, _ in pairs]
    text = "\n".join(questions)
    assert max(len(q) for q in questions) <= sequence.DATES_WIDTH
    for piece in ("January", "JANUARY", "january", "Jan.", "Sept.", "jan ", "JAN ", "3rd", "22ND", " of ",
                  "the ", "'9", ", 19", "/19", "-20", "Wednesday", "WED", "wed.", "  "):  # fmt: skip
        assert piece in text, piece
    forms = {
        "numeric, 2-digit year": r"^\d{1,2}/\d{1,2}/\d\d$",
        "numeric, 4-digit year": r"^\d{1,2}/\d{1,2}/\d{4}$",
        "year first": r"^\d{4}-\d\d-\d\d$",
        "no weekday, words": r"^[A-Za-z]+\.? \d",
        "weekday": r"^[A-Za-z]+\.?,? \w",
    }
    for form, pattern in forms.items():
        assert sum(bool(re.search(pattern, q)) for q in questions) > 100, form
    # A written weekday is always the date's true one.
    names = [
        d.lower() for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    ]
    seen = 0
    for q, a in pairs:
        first = q.split()[0].rstrip(".,").lower()
        if any(first in (n, n[:3]) for n in names):
            weekday = next(i for i, n in enumerate(names) if first in (n, n[:3]))
            assert weekday == dt.date.fromisoformat(a[1:]).weekday(), q
            seen += 1
    assert seen > 3000


def test_compact_dates_come_in_every_variant():
    # Military and log styles (03MAR99, 03-Mar-1999): each separator, case and year length shows up.
    questions = [q.split()[-1] for q, _ in sequence.date_pairs(20_000, seed=3)]
    counts = {}
    for q in questions:
        m = re.fullmatch(r"\d{1,2}(-?)([A-Za-z]{3})\1(\d\d|\d{4})", q)
        if m:
            case = "upper" if m[2].isupper() else "lower" if m[2].islower() else "title"
            key = (m[1] or "none", case, len(m[3]))
            counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 12, sorted(counts)
    assert min(counts.values()) >= 5, counts
    # Written in capitals by convention: capitals are the most common case of the unseparated form.
    assert counts["none", "upper", 2] > counts["none", "title", 2]


def test_two_digit_years_pivot_at_50():
    assert sequence.two_digit_year(49) == 2049 and sequence.two_digit_year(50) == 1950
    assert sequence.two_digit_year(0) == 2000 and sequence.two_digit_year(99) == 1999


def test_reverse_switch_reverses_questions_only():
    (x, t), _ = sequence.load_data("dates", n=200, test_size=20)
    (xr, tr), _ = sequence.load_data("dates", n=200, test_size=20, reverse=True)
    _, id_to_char = sequence.get_vocab("dates")
    plain, flipped = sequence.decode(x, id_to_char), sequence.decode(xr, id_to_char)
    assert flipped == [q[::-1] for q in plain]  # internal spaces reversed too, padding kept right
    np.testing.assert_array_equal(sequence.lengths(xr), [len(q) for q in plain])
    np.testing.assert_array_equal(tr, t)


def test_vocab_has_padding_first_and_the_start_symbol():
    char_to_id, id_to_char = sequence.get_vocab("addition")
    assert id_to_char[0] == " " and "_" in char_to_id and set("0123456789+") <= set(char_to_id)
    assert all(id_to_char[i] == c for c, i in char_to_id.items())
    with pytest.raises(ValueError, match="choose one of addition, dates"):
        sequence.get_vocab("poems")


def test_reading_your_own_pairs(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("cat\ttac\n\nhello  _olleh\nab\tba\n", encoding="utf-8")
    (x, t), test, _, id_to_char = sequence.load_pairs_file(path)
    assert test is None
    assert sequence.decode(x, id_to_char) == ["cat", "hello", "ab"]
    assert sequence.decode(t, id_to_char) == ["_tac", "_olleh", "_ba"]


def test_malformed_lines_are_reported_with_their_numbers(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1+1\t2\nno separator here\n\t5\nok\tfine\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        sequence.load_pairs_file(path)
    text = str(info.value)
    assert "line 2:" in text and "line 3:" in text and "line 1:" not in text and "line 4" not in text
    with pytest.raises(FileNotFoundError, match="No pairs file"):
        sequence.load_pairs_file(tmp_path / "missing.txt")
