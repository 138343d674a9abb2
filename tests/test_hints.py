"""Derivation first, formulas on request: backward passes are derived, not copied.

A backward-pass exercise (``model_answer(..., derivation=True)``) gives the
forward definition, the shapes and a path to the derivation in visible text;
its final formulas sit in a collapsed hint, tagged as the answer::

    <details class="answer"><summary>Hint 3: the full formulas</summary>

    $$ ... $$

    </details>

These tests fail if a tagged formula reappears in any visible text of a
release, if a derivation exercise has no collapsed answer hint before it, or
if nbgrader's feedback HTML shows a hint open.
"""

from __future__ import annotations

import copy
import html.parser
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from traitlets.config import Config

from autograder import flow
from course.answers import answers

HINT = re.compile(r"<details(?P<attrs>[^>]*)>(?P<body>.*?)</details>", re.S)
MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", re.S)
MIN_FORMULA = 12  # shorter tagged math ("$dW$") names a quantity; it does not give the answer away


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _is_answer(attrs: str) -> bool:
    return re.search(r'class\s*=\s*"[^"]*\banswer\b', attrs) is not None


def answer_formulas(markdown: str) -> list[str]:
    """The math inside the answer hints of a markdown text, whitespace removed."""
    found = []
    for hint in HINT.finditer(markdown):
        if _is_answer(hint["attrs"]):
            for m in MATH.finditer(hint["body"]):
                formula = _squash(m[1] or m[2])
                if len(formula) >= MIN_FORMULA:
                    found.append(formula)
    return found


def visible(source: str) -> str:
    """A cell's text with every hint removed: what a student reads without opening anything."""
    return HINT.sub("", source)


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("release")
    for chapter in flow.assignments():
        flow.release(chapter, root)
    return sorted((root / "release").glob("ch*/*.ipynb"))


def _sections(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Per solution cell grade id: the markdown from the previous graded cell up to it."""
    out, text = {}, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            text.append(cell.source)
        elif meta.get("solution") and meta.get("grade_id"):
            out[meta["grade_id"]] = "\n".join(text)
            text = []
        elif meta.get("grade"):
            text = []
    return out


def test_the_answer_tag_is_found_and_hidden():
    """The tests' own parsing, on a made-up cell: a formula in an answer hint, and the same formula shown."""
    md = 'See:\n\n<details class="answer"><summary>Hint 3</summary>\n\n$$dx = dy\\,W^\\top$$\n\n</details>\n'
    assert answer_formulas(md) == ["dx=dy\\,W^\\top"]
    assert "dy" not in visible(md)
    assert answer_formulas("<details><summary>Hint 1</summary>\n\n$$dx = dy\\,W^\\top$$\n</details>") == []


def test_every_derivation_exercise_has_progressive_hints_ending_in_the_answer(releases):
    derivations = {a.exercise for a in answers().values() if a.derivation}
    seen = set()
    for path in releases:
        for gid, text in _sections(nbformat.read(path, as_version=4)).items():
            if gid not in derivations:
                continue
            seen.add(gid)
            hints = list(HINT.finditer(text))
            assert len(hints) >= 2, f"{path.name}: {gid} needs hints that lead to the answer, then the answer"
            assert _is_answer(hints[-1]["attrs"]), f"{path.name}: {gid}: the last hint is the answer"
            assert answer_formulas(text), f"{path.name}: {gid}'s answer hint holds no formula"
    assert seen == derivations, f"derivation exercises without a section: {sorted(derivations - seen)}"


def test_no_final_formula_is_visible_in_a_release(releases):
    for path in releases:
        nb = nbformat.read(path, as_version=4)
        formulas = {f for c in nb.cells if c.cell_type == "markdown" for f in answer_formulas(c.source)}
        for index, cell in enumerate(nb.cells):
            shown = _squash(visible(cell.source))
            leaked = [f for f in formulas if f in shown]
            assert not leaked, f"{path.name} cell {index} shows the answer {leaked[0]!r} outside a hint"


class _OpenText(html.parser.HTMLParser):
    """Collects the text outside every closed <details> element (what is shown without a click)."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_depth = 0
        self.shown: list[str] = []
        self.text: list[str] = []
        self.opened: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            if "open" in dict(attrs):
                self.opened.append(dict(attrs).get("class") or "")
            self.closed_depth += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self.closed_depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self.closed_depth == 0:
            self.shown.append(data)


def _feedback_html(nb: nbformat.NotebookNode) -> str:
    """The page nbgrader's generate_feedback writes for a notebook (its template and settings)."""
    import nbgrader

    c = Config()
    c.HTMLExporter.template_name = "feedback"
    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    c.HTMLExporter.extra_template_basedirs = [os.fspath(formgrader / "templates")]
    css = formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    c.HTMLExporter.extra_template_paths = [os.fspath(css)]
    nb = copy.deepcopy(nb)
    for cell in nb.cells:  # what nbgrader's GetGrades puts there before the page is drawn
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            meta["score"] = 0.0
    scores = {"notebook": "release", "score": 0.0, "max_score": 0.0, "late_penalty": 0.0}
    page, _ = HTMLExporter(config=c).from_notebook_node(nb, resources={"nbgrader": scores})
    return page


def test_hints_stay_collapsed_in_the_feedback_html(releases):
    for path in releases:
        nb = nbformat.read(path, as_version=4)
        formulas = {f for c in nb.cells if c.cell_type == "markdown" for f in answer_formulas(c.source)}
        page = _feedback_html(nb)
        parser = _OpenText()
        parser.feed(page)
        assert not parser.opened, f"{path.name}: a hint is open in the feedback: {parser.opened}"
        shown, text = _squash("".join(parser.shown)), _squash("".join(parser.text))
        assert all(f in text for f in formulas), f"{path.name}: an answer hint is missing from the feedback"
        leaked = [f for f in formulas if f in shown]
        assert not leaked, f"{path.name}: the feedback shows {leaked[0]!r} outside a collapsed hint"
