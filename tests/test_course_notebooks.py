"""The chapter notebooks: in sync with course/, runnable, releasable, gradable.

The heavy tests release and autograde every chapter with nbgrader in a
scratch course root, and compare nbgrader's scores with `course check`.
"""

from __future__ import annotations

import copy
import html
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import flow
from autograder.authors import sync
from autograder.instructors import cells, judge, sandbox
from autograder.settings import REPO, grading_environment
from autograder.students import selfcheck
from course.answers import answers

NOTEBOOKS = sorted((REPO / "notebooks").glob("ch*/*.ipynb"))
CHAPTERS = flow.assignments()

# Deliberately wrong answers, per chapter: (exercise test cell, text in the solution to replace,
# wrong replacement), one exercise each. Each must cost exactly its own exercise's points.
WRONG_ANSWERS: dict[str, list[tuple[str, str, str]]] = {
    "ch01": [
        ("affine_tests", "self.grads[1][...] = dout2.sum(axis=0)", "self.grads[1][...] = dout2[0]"),
    ],
    "ch02": [
        (
            "ppmi_tests",
            "Cf.sum(axis=1, keepdims=True) * Cf.sum(axis=0, keepdims=True)",
            "Cf.sum(axis=0, keepdims=True).T * Cf.sum(axis=0, keepdims=True)",
        ),
    ],
    "ch03": [
        (
            "simple_cbow_tests",
            "dh = self.out_layer.backward(self.loss_layer.backward(dout)) / len(self.in_layers)",
            "dh = self.out_layer.backward(self.loss_layer.backward(dout))",
        ),
    ],
    "ch04": [
        (
            "negative_sampling_loss_tests",
            "dscore = (y - label) * (dout / y.shape[0])",
            "dscore = (y - label) * dout",
        ),
        ("skip_gram_tests", "dh = self.ns_loss.backward(C * dout)", "dh = self.ns_loss.backward(dout)"),
    ],
    "ch05": [
        ("rnn_tests", "da = dh_next * (1.0 - h_next * h_next)", "da = dh_next * (1.0 - h_next)"),
        (
            "time_rnn_tests",
            "dxs[t], dh = cell.backward(dhs[:, t, :] + dh)",
            "dxs[t], dh = cell.backward(dhs[:, t, :])",
        ),
    ],
    "ch06": [
        ("lstm_tests", "return da @ Wx.T, da @ Wh.T, dc * f", "return da @ Wx.T, da @ Wh.T, dc"),
        (
            "time_lstm_tests",
            "dxs[:, t], dh, dc = layer.backward(dhs[:, t] + dh, dc)",
            "dxs[:, t], dh, _ = layer.backward(dhs[:, t] + dh, dc)",
        ),
    ],
    "ch07": [
        ("decoder_tests", "return self.lstm.dh", "return 0.5 * self.lstm.dh"),
        (  # ranks the candidates by their last step only, forgetting each prefix's total
            "beam_search_tests",
            "candidates = (totals[:, :, None] + log_probs).reshape(N, -1)",
            "candidates = (0 * totals[:, :, None] + log_probs).reshape(N, -1)",
        ),
    ],
    "ch08": [
        (
            "weight_sum_tests",
            "da = (hs * dc[:, None, :]).sum(axis=2)",
            "da = 2 * (hs * dc[:, None, :]).sum(axis=2)",
        ),
        (
            "bidirectional_lstm_tests",
            "return dxs_left + reverse_sequences(dxs_right, self.lengths)",
            "return dxs_left + dxs_right",
        ),
    ],
    "ch09": [
        (  # the scale forgotten on the way back
            "scaled_attention_tests",
            "dscores = a * (da - (a * da).sum(axis=-1, keepdims=True)) * scale",
            "dscores = a * (da - (a * da).sum(axis=-1, keepdims=True))",
        ),
        ("causal_mask_tests", "xp.tril(xp.ones((T, T), dtype=bool))", "xp.triu(xp.ones((T, T), dtype=bool))"),
        (  # reshaped straight into heads: positions mixed into heads
            "split_heads_tests",
            "x.reshape(N, T, num_heads, D // num_heads).transpose(0, 2, 1, 3)",
            "x.reshape(N, num_heads, T, D // num_heads)",
        ),
        ("merge_heads_tests", "x.transpose(0, 2, 1, 3).reshape(N, T, h * dk)", "x.reshape(N, T, h * dk)"),
        (  # the path through the standard deviation left out
            "layer_norm_tests",
            "return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std",
            "return (dxhat - mean_dxhat) / std",
        ),
    ],
}


def _nbgrader(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _split_markers(text: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(lines inside begin/end marker pairs, lines outside them)."""
    inside_lines, outside_lines, inside = [], [], False
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        else:
            (inside_lines if inside else outside_lines).append(line)
    return inside_lines, outside_lines


def _regions(text: str, begin: str, end: str) -> list[str]:
    """Non-trivial lines inside begin/end marker pairs."""
    inside = _split_markers(text, begin, end)[0]
    return [ln.strip() for ln in inside if ln.strip() and not ln.strip().startswith("#")]


def _outside(text: str, begin: str, end: str) -> str:
    """The text outside begin/end marker pairs (the code students are given)."""
    return "\n".join(_split_markers(text, begin, end)[1])


def test_every_chapter_has_a_notebook_with_at_least_four_exercises():
    assert CHAPTERS, "no chapter notebooks found"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tests = [c for c in nb.cells if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")]
        solutions = [c for c in nb.cells if _nbgrader(c).get("solution")]
        assert len(tests) >= 4 and len(solutions) >= 4, path.name
        assert all("### BEGIN HIDDEN TESTS" in c.source for c in tests), path.name


def test_solution_cells_match_the_reference_in_course():
    stale = {p.name: sync.drift(p) for p in NOTEBOOKS}
    assert not any(stale.values()), f"run `course sync`: {stale}"


def test_every_solution_cell_renders_a_marked_model_answer_of_its_chapter():
    """course/ marks each answer (course.answers); each is rendered in exactly one solution cell."""
    known = answers()
    rendered = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = _nbgrader(cell)
            if cell.cell_type == "code" and meta.get("solution"):
                assert meta["grade_id"] in known, (
                    f"{path.name}: solution cell {meta['grade_id']} has no model answer"
                )
                assert known[meta["grade_id"]].chapter == path.parent.name, meta["grade_id"]
                rendered.append(meta["grade_id"])
    assert sorted(rendered) == sorted(known), "every model answer is rendered in exactly one solution cell"


def test_drift_is_detected(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    cell, _ = sync.solution_cells(nb)[0]
    cell.source = cell.source.replace("return", "return  ", 1)
    copy = tmp_path / NOTEBOOKS[0].name
    nbformat.write(nb, copy)
    assert sync.drift(copy) == [_nbgrader(cell)["grade_id"]]
    assert sync.sync(copy) == 1 and sync.drift(copy) == []


def _execute(path: Path, cwd: Path, backend: str = "numpy") -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # A last cell proves the run used the backend asked for.
    nb.cells.append(
        nbformat.v4.new_code_cell(
            f"import course\nassert course.backend.name() == {backend!r}, course.backend.name()"
        )
    )
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env={**grading_environment(), "COURSE_BACKEND": backend})
    return nb


@pytest.mark.heavy
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_source_notebook_runs_top_to_bottom_in_fast_mode(path, tmp_path):
    # On the strict stand-in for CuPy: every cell, widgets and plots included, must keep to the
    # GPU's rules. nbgrader's validate and the grading tests below run the same notebook on NumPy.
    nb = _execute(path, tmp_path, backend="strict")  # raises CellExecutionError on the first failing cell
    stderr = [
        o.text
        for c in nb.cells
        if _nbgrader(c).get("grade")
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    ]
    assert not stderr, f"test cells wrote to stderr (nbgrader would give 0 points): {stderr}"


@pytest.mark.heavy
@pytest.mark.parametrize("path", NOTEBOOKS[:1], ids=[p.name for p in NOTEBOOKS[:1]])
def test_nbgrader_validate_passes_on_the_source(path):
    # One chapter shows that the instructor's `nbgrader validate` works on the source tree; every
    # chapter's source runs on NumPy in the grading tests below (the reference gets full marks).
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), "validate", str(path)],
        capture_output=True, text=True, env=grading_environment(), cwd=path.parent, timeout=600,
    )  # fmt: skip
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    """A scratch nbgrader course root with every chapter released."""
    root = tmp_path_factory.mktemp("course")
    for chapter in CHAPTERS:
        flow.release(chapter, root)
    return root


def _released(root: Path, chapter: str) -> list[Path]:
    return sorted((root / "release" / chapter).glob("*.ipynb"))


@pytest.mark.heavy
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_has_stubs_and_no_solutions_or_hidden_tests(course_root, chapter):
    for released in _released(course_root, chapter):
        source = nbformat.read(REPO / "notebooks" / chapter / released.name, as_version=4)
        student = nbformat.read(released, as_version=4)
        by_id = {_nbgrader(c).get("grade_id"): c for c in student.cells}
        text = released.read_text()
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        for cell in source.cells:
            meta, gid = _nbgrader(cell), _nbgrader(cell).get("grade_id")
            if meta.get("solution"):
                stub = by_id[gid].source
                assert "raise NotImplementedError()" in stub, gid
                given = _outside(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                solution = _regions(cell.source, "BEGIN SOLUTION", "END SOLUTION")
                leaked = [ln for ln in solution if ln in stub and ln not in given]
                assert not leaked, f"{gid}: solution lines in the release: {leaked}"
            if meta.get("grade") and not meta.get("solution"):
                hidden = _regions(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
                assert hidden and not [ln for ln in hidden if ln in by_id[gid].source], gid


def _wrong_answers_copy(chapter: str, tmp_path: Path) -> tuple[Path, set[str]]:
    """The chapter's notebook with every deliberately wrong answer of the chapter in it."""
    path = sorted((REPO / "notebooks" / chapter).glob("*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    for grade_id, right, wrong in WRONG_ANSWERS[chapter]:
        # The first solution cell that has the text: a hint may quote the same line, and editing the
        # hint would change nothing graded.
        hits = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and right in c.source]
        assert hits, f"the wrong-answer edit {grade_id} for {chapter} no longer applies"
        hits[0].source = hits[0].source.replace(right, wrong, 1)
    out = tmp_path / path.name
    nbformat.write(nb, out)
    return out, {grade_id for grade_id, _, _ in WRONG_ANSWERS[chapter]}


@pytest.mark.heavy
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_autograde_reference_release_and_wrong_answers(course_root, chapter, tmp_path):
    sources = sorted((REPO / "notebooks" / chapter).glob("*.ipynb"))
    flow.submit(course_root, "reference", chapter, sources)
    full = flow.autograde(course_root, chapter, "reference")
    assert full and all(score == points for score, points in full.values()), full

    flow.submit(course_root, "untouched", chapter, _released(course_root, chapter))
    zero = flow.autograde(course_root, chapter, "untouched")
    assert set(zero) == set(full) and all(score == 0 for score, _ in zero.values()), zero

    # The wrong answers sit in different exercises: each costs its own exercise's points, all of them,
    # and no other exercise loses anything (test_a_stubbed_exercise_costs_only_its_own_points shows
    # that no exercise builds on another's mistake).
    wrong_nb, broken = _wrong_answers_copy(chapter, tmp_path)
    flow.submit(course_root, "wrong", chapter, [wrong_nb])
    wrong = flow.autograde(course_root, chapter, "wrong")
    lost = {gid for gid, (score, points) in wrong.items() if score != points}
    assert lost == broken, wrong
    assert all(wrong[gid][0] == 0 for gid in broken), wrong
    # The self-check gives the same scores as nbgrader on the same notebook.
    local = {s.grade_id: (s.score, s.points) for s in selfcheck.grade(wrong_nb)}
    assert local == wrong


@pytest.mark.heavy
def test_feedback_hides_the_hidden_tests(course_root):
    chapter = CHAPTERS[0]
    sources = sorted((REPO / "notebooks" / chapter).glob("*.ipynb"))
    flow.submit(course_root, "feedback-student", chapter, sources)
    flow.autograde(course_root, chapter, "feedback-student")
    folder = flow.feedback(course_root, chapter, "feedback-student")
    pages = [p.read_text() for p in folder.glob("*.html")]
    # The text a student reads: tags (syntax highlighting) removed, entities decoded.
    text = html.unescape(re.sub(r"<[^>]+>", "", "\n".join(pages)))
    hidden = []
    for path in sorted((REPO / "notebooks" / chapter).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            hidden += _regions(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
    assert pages and hidden
    assert "graded()" in text, "the feedback should still show the visible tests"
    assert not [line for line in hidden if line in text], "hidden tests leaked into the feedback"


def test_self_check_names_an_unknown_notebook(tmp_path):
    stray = tmp_path / "my_notes.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    with pytest.raises(FileNotFoundError, match="not one of the course's notebooks"):
        selfcheck.grade(stray)


def test_cli_check_rejects_a_missing_file(capsys):
    from autograder.students.cli import main

    assert main(["check", "does/not/exist.ipynb"]) == 2
    assert "No such notebook" in capsys.readouterr().err


@pytest.mark.heavy
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_stubbed_exercise_costs_only_its_own_points(course_root, chapter):
    """One bug, one exercise: later exercises are judged with the course's versions of earlier ones."""
    for path in sorted((REPO / "notebooks" / chapter).glob("*.ipynb")):
        source = nbformat.read(path, as_version=4)
        release = nbformat.read(course_root / "release" / chapter / path.name, as_version=4)
        stubs = {_nbgrader(c)["grade_id"]: c for c in release.cells if _nbgrader(c).get("solution")}
        for index, cell in enumerate(source.cells):
            if not _nbgrader(cell).get("solution"):
                continue
            nb = copy.deepcopy(source)
            nb.cells[index] = copy.deepcopy(stubs[_nbgrader(cell)["grade_id"]])
            tests_after = [_nbgrader(c)["grade_id"] for c in source.cells[index:] if cells.is_test(c)]
            # The exercises from this one on: those are the ones that could build on it.
            verdicts = judge.judge_notebook(nb, source, sandbox.Limits(wall_s=300), only=tests_after)
            failed = {gid for gid, verdict in verdicts.items() if not verdict.passed}
            assert failed == {tests_after[0]}, (_nbgrader(cell)["grade_id"], verdicts)
