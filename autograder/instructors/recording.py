"""nbgrader's autograde made cheap enough for one coordinator to record a whole cluster's results.

Recording one submission with nbgrader's autograde (no execution: the result came from a
worker) cost 1.5 to 2.5 s on the course machine (2 shared cores), nearly all of it overhead:

* nbgrader opens its gradebook about ten times per submission (once per step), and each
  ``Gradebook(...)`` makes a new SQLAlchemy engine and runs ``create_all`` (a query per
  table); a new engine has an empty SQL compilation cache, so every query is compiled again;
* its cell-metadata check runs twice per notebook and calls ``jsonschema.validate`` per
  cell, which first validates nbgrader's own schema against the JSON-Schema meta-schema.

:func:`cheaper` keeps one engine per gradebook URL for its ``with`` block (queries compile
once; tables are created at most once) and checks cell metadata with one validator built
once from nbgrader's schema (the same checks; the schema itself is checked once). Each
Gradebook still opens and closes its own session, so every write is committed as before;
nothing about what is written changes. Used only by the cluster's coordinator, the one writer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Validator:
    """Stands in for the ``jsonschema`` module inside nbgrader's metadata checks: ``validate`` with a
    validator per schema built (and the schema checked) once."""

    def __init__(self, jsonschema: Any):
        self._jsonschema = jsonschema
        self._built: dict[str, Any] = {}

    def validate(self, instance: Any, schema: dict) -> None:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._built:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            self._built[key] = cls(schema)
        self._built[key].validate(instance)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jsonschema, name)


@contextmanager
def cheaper() -> Iterator[None]:
    """For the block: one SQLAlchemy engine per gradebook URL, and schema validators built once."""
    from nbgrader import api as nbapi  # noqa: PLC0415 - slow import, only when grading
    from nbgrader.nbgraderformat import common  # noqa: PLC0415

    make_engine, jsonschema = nbapi.create_engine, common.jsonschema
    engines: dict[tuple, Any] = {}

    def engine(url: Any, **kwargs: Any) -> Any:
        key = (str(url), tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = make_engine(url, **kwargs)
        return engines[key]

    metadata = nbapi.Base.metadata
    create_all, created = metadata.create_all, set()

    def create_once(bind: Any, **kwargs: Any) -> None:
        if id(bind) not in created:  # the tables exist after the first call on an engine
            create_all(bind=bind, **kwargs)
            created.add(id(bind))

    nbapi.create_engine, common.jsonschema = engine, _Validator(jsonschema)
    metadata.create_all = create_once
    try:
        yield
    finally:
        nbapi.create_engine, common.jsonschema = make_engine, jsonschema
        del metadata.create_all  # the class's method again
        for made in engines.values():
            made.dispose()
