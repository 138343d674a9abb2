"""Model answers are what a good student writes from the chapter's text.

The solution cells render the answers marked in ``course/`` (``course.answers``).
Each may use the library's public API and the student's own earlier answers,
never a private helper (``_name``), a base class that does the work out of
sight, or speed bookkeeping (touched-row lists, ``out=`` buffers): those live in
fast versions under their own names, proven equal to the plain answer by the
tests beside each layer.
"""

from __future__ import annotations

import ast

import pytest

from autograder.authors import sync
from course.answers import answers

ANSWERS = answers()
BOOKKEEPING = "grad_rows"  # which rows a sparse gradient touched: the fast optimizers' concern


def _problems(answer) -> list[str]:
    source = sync.render(answer.reference, answer.methods)
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        name = getattr(node, "attr", None) or getattr(node, "id", None)
        if name and name.startswith("_") and name != "_" and not name.endswith("__"):
            found.append(f"private name {name}")
        if name == BOOKKEEPING or (isinstance(node, ast.arg) and node.arg == "rows"):
            found.append("bookkeeping of the rows touched")
        if isinstance(node, ast.keyword) and node.arg == "out":
            found.append("an out= buffer")
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_") and not node.name.startswith("__"):
            found.append(f"private method {node.name}")
    top = tree.body[0]
    bases = {a.reference.rpartition(":")[2] for a in ANSWERS.values()}
    for base in getattr(top, "bases", []):
        if not (isinstance(base, ast.Name) and base.id in bases):
            found.append(f"base class {ast.unparse(base)} that is not a chapter's answer")
    return sorted(set(found))


@pytest.mark.parametrize("exercise", sorted(ANSWERS))
def test_model_answer_is_plain(exercise):
    assert _problems(ANSWERS[exercise]) == []


def test_the_plainness_check_can_fail():
    """A stand-in answer with every kind of problem is caught."""
    from course.answers import Answer

    fake = Answer("fake", "ch00", "course.layers.embedding:SparseEmbedding", ("backward",), True, ())
    assert _problems(fake), "the library's fast Embedding would pass as a plain answer"
