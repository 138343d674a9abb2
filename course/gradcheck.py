"""Gradient checking: compare a backward pass with numerical gradients.

The harness used by students in the notebooks and by the hidden grading
tests:

* :func:`numerical_gradient` - central differences in float64;
* :func:`rel_error` - the relative error used throughout the course;
* :func:`check_layer` - forward + backward of one layer against numerical
  gradients for every parameter and every floating-point input;
* :func:`check_model` - the same for a whole model's scalar loss.

Checks run on a float64 copy of the layer (the original is never touched),
replay the same random numbers on every forward pass (so dropout and
negative sampling can be checked), and return a :class:`GradCheckReport`
that prints as a table and names the worst entry of any failing gradient.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from course import backend

Array = Any

DEFAULT_TOL = 1e-6
DEFAULT_STEP = 1e-5
DEFAULT_MAX_COORDS = 64
_ABS_FLOOR = 1e-8
_REL_FLOOR = 1e-3


# --------------------------------------------------------------------------
# Relative error and numerical gradients
# --------------------------------------------------------------------------


def _elementwise_rel_error(a: Array, b: Array, atol: float = 0.0) -> Array:
    """(|a - b| - atol)+ / max(|a| + |b|, floor), on the host, in float64.

    The floor (a thousandth of the largest |a| + |b|, at least 1e-8) keeps
    entries that are zero up to rounding noise from dominating the error;
    differences below ``atol`` (the noise level of a finite difference) count
    as zero.
    """
    np = backend.host()
    a = np.asarray(backend.to_host(a), dtype=np.float64)
    b = np.asarray(backend.to_host(b), dtype=np.float64)
    size = np.abs(a) + np.abs(b)
    scale = float(size.max()) if size.size else 0.0
    floor = max(_REL_FLOOR * scale, _ABS_FLOOR)
    with np.errstate(invalid="ignore"):
        err = np.maximum(np.abs(a - b) - atol, 0.0) / np.maximum(size, floor)
    # NaN or inf anywhere is as wrong as it gets.
    return np.where(np.isfinite(err), err, np.inf)


def rel_error(a: Array, b: Array, atol: float = 0.0) -> float:
    """Largest relative error between two arrays of the same shape.

    Each entry's error is |a - b| / (|a| + |b|); entries much smaller than the
    largest one are measured against a thousandth of that largest size (and
    never below 1e-8), so rounding noise around zero does not count; so do
    differences smaller than ``atol``. A correct float64 gradient gives about
    1e-8 or less; a wrong one, about 1.
    """
    if getattr(a, "shape", ()) != getattr(b, "shape", ()):
        raise ValueError(f"rel_error: shapes differ, {getattr(a, 'shape', ())} vs {getattr(b, 'shape', ())}.")
    err = _elementwise_rel_error(a, b, atol)
    return float(err.max()) if err.size else 0.0


def _require_float64(x: Array, what: str) -> None:
    if getattr(x, "dtype", None) is None or x.dtype.kind != "f" or x.dtype.itemsize != 8:
        raise TypeError(
            f"{what} must be a float64 array for a numerical gradient (got "
            f"{getattr(x, 'dtype', type(x).__name__)}); float32 rounding swamps "
            "the finite differences. Pass x.astype('float64')."
        )


def numerical_gradient(f: Callable[[Array], Any], x: Array, h: float = DEFAULT_STEP) -> Array:
    """Gradient of the scalar ``f(x)`` with respect to ``x`` by central differences.

    ``x`` (any shape, float64) is perturbed in place one entry at a time and
    restored afterwards: df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
    Returns a float64 array of the shape of ``x``.
    """
    _require_float64(x, "x")
    grad = backend.array_module(x).zeros_like(x)
    for idx in _sample_indices(tuple(x.shape), None, 0):
        old = float(x[idx])
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


@dataclass
class GradCheckRow:
    """One checked gradient: a parameter or an input."""

    name: str
    kind: str  # "param" or "input"
    shape: tuple
    checked: int
    size: int
    error: float
    passed: bool
    worst_index: tuple | None = None
    expected: float | None = None  # numerical
    got: float | None = None  # analytic
    problem: str | None = None  # a contract problem found instead of a number
    noise: float = 0.0  # absolute differences below this were not counted

    def message(self) -> str:
        """What went wrong, in words a student can act on."""
        if self.problem:
            return f"{self.name}: {self.problem}"
        if self.passed and self.error >= DEFAULT_TOL:
            return (
                f"{self.name}: ok; its larger relative errors come from entries whose differences are "
                f"below the finite-difference noise level ({self.noise:.1e}) and were not counted"
            )
        if self.passed:
            return f"{self.name}: ok (max relative error {self.error:.1e})"
        return (
            f"{self.name} {self.kind} gradient is wrong: max relative error {self.error:.1e} "
            f"at index {self.worst_index}: numerical (expected) {self.expected:.6g}, "
            f"backward (got) {self.got:.6g}. Check the backward pass for {self.name}."
        )


def _problem_row(name: str, kind: str, problem: str, shape: tuple = (), size: int = 0) -> GradCheckRow:
    """A failing row for a contract problem, which has no error number."""
    return GradCheckRow(name, kind, shape, 0, size, float("inf"), False, problem=problem)


@dataclass
class GradCheckReport:
    """Result of :func:`check_layer` / :func:`check_model`; prints as a table."""

    title: str
    rows: list[GradCheckRow] = field(default_factory=list)
    tol: float = DEFAULT_TOL
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every gradient passed and no contract problem was found."""
        return bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def errors(self) -> dict[str, float]:
        """Max relative error per checked name."""
        return {r.name: r.error for r in self.rows}

    @property
    def failures(self) -> list[GradCheckRow]:
        return [r for r in self.rows if not r.passed]

    def __bool__(self) -> bool:
        return self.ok

    def table(self) -> str:
        header = ("name", "kind", "shape", "checked", "max rel error", "result")
        body = [
            (
                r.name,
                r.kind,
                str(r.shape),
                "all" if r.checked == r.size else f"{r.checked}/{r.size}",
                "-" if r.problem else f"{r.error:.2e}",
                "ok" if r.passed else "FAIL",
            )
            for r in self.rows
        ]
        widths = [max(len(str(c)) for c in col) for col in zip(header, *body, strict=False)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [self.title, fmt.format(*header), fmt.format(*("-" * w for w in widths))]
        lines += [fmt.format(*row) for row in body]
        return "\n".join(lines)

    def __str__(self) -> str:
        parts = [self.table()]
        parts += [r.message() for r in self.rows if not r.passed or r.error >= self.tol]
        parts += self.notes
        verdict = "all gradients match" if self.ok else "gradient check FAILED"
        parts.append(f"{verdict} (tolerance {self.tol:.0e})")
        return "\n".join(parts)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html  # noqa: PLC0415

        cells = "".join(
            "<tr style='background:{}'><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td><b>{}</b></td></tr>".format(
                "#e8f5e9" if r.passed else "#ffebee",
                html.escape(r.name),
                r.kind,
                r.shape,
                "all" if r.checked == r.size else f"{r.checked}/{r.size}",
                "-" if r.problem else f"{r.error:.2e}",
                "ok" if r.passed else "FAIL",
            )
            for r in self.rows
        )
        msgs = "".join(f"<li>{html.escape(r.message())}</li>" for r in self.failures)
        msgs += "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<p><b>{html.escape(self.title)}</b></p><table><tr><th>name</th><th>kind</th>"
            "<th>shape</th><th>checked</th><th>max rel error</th><th>result</th></tr>"
            f"{cells}</table><ul>{msgs}</ul>"
        )

    def assert_ok(self) -> None:
        """Raise AssertionError naming every failing gradient."""
        if not self.ok:
            lines = [r.message() for r in self.failures] or ["nothing was checked"]
            raise AssertionError("\n".join(lines) + "\n\n" + self.table())


# --------------------------------------------------------------------------
# Float64 copies that keep shared arrays shared
# --------------------------------------------------------------------------

_ATOMIC = (type, type(len), type(lambda: 0), type(inspect))


def _arrays_in(obj: Any) -> dict[int, Array]:
    """Every NumPy/CuPy array reachable from obj, by id (attributes, lists, dicts)."""
    found: dict[int, Array] = {}
    seen: set[int] = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _ATOMIC) or o is None:
            continue
        seen.add(id(o))
        if backend.is_array(o):
            found[id(o)] = o
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__dict__"):
            stack.extend(vars(o).values())
    return found


def _as_float64(a: Array) -> Array:
    if a.dtype.kind == "f":
        return a.astype("float64")  # always a copy
    return a.copy()


def float64_copy(obj: Any) -> Any:
    """A deep copy of obj with every floating array converted to float64.

    Arrays shared between places (tied weights, a params list and the layer
    attribute pointing at the same array) stay shared in the copy.
    """
    memo = {key: _as_float64(a) for key, a in _arrays_in(obj).items()}
    memo[id(memo)] = [obj]  # keep-alive list expected by copy.deepcopy
    return copy.deepcopy(obj, memo)


def _on_device_of(layer: Any, a: Array) -> Array:
    """Test data made on the host, copied to the device of ``layer``'s weights (if they are on one)."""
    params = [p for p in getattr(layer, "params", []) if backend.is_array(p)]
    host = backend.host()
    if not params or backend.array_module(params[0]) is host or backend.array_module(a) is not host:
        return a
    return backend.to_device(a, like=params[0])


def _fresh_copy(obj: Any) -> Any:
    """Copy obj's objects and containers but share all its arrays."""
    memo: dict[int, Any] = {key: a for key, a in _arrays_in(obj).items()}
    memo[id(memo)] = [obj]
    return copy.deepcopy(obj, memo)


# --------------------------------------------------------------------------
# check_layer / check_model
# --------------------------------------------------------------------------


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_float_array(x: Any) -> bool:
    return backend.is_array(x) and x.dtype.kind == "f"


def _is_scalar(out: Any) -> bool:
    return not backend.is_array(out) or out.ndim == 0


def _input_names(layer: Any, count: int, method: str) -> list[str]:
    try:
        sig = inspect.signature(getattr(layer, method))
        names = [
            p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    names += [f"input[{i}]" for i in range(len(names), count)]
    return names[:count]


def _param_names(layer: Any, count: int) -> list[str]:
    names = list(getattr(layer, "param_names", None) or [])
    if len(names) != count:
        names = [f"params[{i}]" for i in range(count)]
    return names


def _sample_indices(shape: tuple, max_coords: int | None, seed: int) -> list[tuple]:
    """All multi-indices of shape, or a random sample of max_coords of them."""
    np = backend.host()
    size = int(np.prod(shape, dtype=np.int64))
    if max_coords is None or size <= max_coords:
        flat = np.arange(size)
    else:
        flat = np.sort(np.random.default_rng(seed).choice(size, max_coords, replace=False))
    return [tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]


def _contract_problems(layer: Any) -> list[str]:
    params = getattr(layer, "params", None)
    grads = getattr(layer, "grads", None)
    if not isinstance(params, list) or not isinstance(grads, list):
        return ["the layer must have `params` and `grads` lists (use [] when it has none)"]
    problems = []
    if len(params) != len(grads):
        problems.append(f"params has {len(params)} arrays but grads has {len(grads)}")
    ids: dict[int, int] = {}
    for i, p in enumerate(params):
        if id(p) in ids:
            problems.append(
                f"params[{i}] is the same array as params[{ids[id(p)]}]: list a tied "
                "weight once and add the gradients of its uses into one grads entry"
            )
        ids[id(p)] = i
    for i, (p, g) in enumerate(zip(params, grads, strict=False)):
        if getattr(p, "shape", None) != getattr(g, "shape", None):
            problems.append(
                f"grads[{i}] has shape {getattr(g, 'shape', None)} but params[{i}] has "
                f"shape {getattr(p, 'shape', None)}"
            )
    return problems


class _Evaluator:
    """Runs forward passes of a float64 layer with fixed randomness and inputs."""

    def __init__(self, base: Any, inputs: list, kwargs: dict, snap: dict, method: str) -> None:
        self.base, self.inputs, self.kwargs, self.snap = base, inputs, kwargs, snap
        self.method = method

    def run(self) -> tuple[Any, Any]:
        """A fresh copy of the layer (state and caches as at the start), run forward."""
        work = _fresh_copy(self.base)
        args = [a.copy() if backend.is_array(a) else a for a in self.inputs]
        backend.rng_restore(self.snap)
        out = getattr(work, self.method)(*args, **self.kwargs)
        return work, out


def _projected(outs: tuple, douts: tuple, absolute: bool = False) -> float:
    """sum(out * dout) over all outputs (or sum |out * dout| when absolute)."""
    total = 0.0
    for o, d in zip(outs, douts, strict=True):
        prod = o * d
        if absolute:
            prod = abs(prod)
        total += float(prod.sum()) if backend.is_array(prod) else float(prod)
    return total


# Relative rounding error of a float64 forward pass, generously: ~90 ulps.
_FORWARD_RTOL = 1e-14


def _numerical_entries(
    ev: _Evaluator, target: Array, indices: list[tuple], douts: tuple, h: float
) -> list[float]:
    """d(sum(out * dout)) / d target[idx] for each idx, by central differences."""
    values = []
    for idx in indices:
        old = float(target[idx])
        target[idx] = old + h
        plus = _as_tuple(ev.run()[1])
        target[idx] = old - h
        minus = _as_tuple(ev.run()[1])
        target[idx] = old
        # Differencing the outputs before projecting avoids cancelling two
        # large sums; unaffected outputs then contribute exactly zero.
        diff = tuple(
            (p - m) if backend.is_array(p) else float(p) - float(m) for p, m in zip(plus, minus, strict=True)
        )
        values.append(_projected(diff, douts) / (2 * h))
    return values


def _compare(
    name: str,
    kind: str,
    target: Array,
    analytic: Any,
    ev: _Evaluator,
    douts: tuple,
    opts: dict,
) -> GradCheckRow:
    shape = tuple(target.shape)
    size = int(target.size)
    if analytic is None:
        return _problem_row(name, kind, "backward returned None for it; return its gradient", shape, size)
    if tuple(getattr(analytic, "shape", ())) != shape:
        got_shape = tuple(getattr(analytic, "shape", ()))
        return _problem_row(name, kind, f"its gradient has shape {got_shape}, expected {shape}", shape, size)
    np = backend.host()
    indices = _sample_indices(shape, opts["max_coords"], opts["seed"])
    numeric = np.array(_numerical_entries(ev, target, indices, douts, opts["h"]))
    host_analytic = np.asarray(backend.to_host(analytic), dtype=np.float64)
    got = np.array([host_analytic[i] for i in indices])
    raw = _elementwise_rel_error(numeric, got)
    counted = _elementwise_rel_error(numeric, got, opts["noise"])
    passed = not counted.size or float(counted.max()) < opts["tol"]
    worst = int((raw if passed else counted).argmax()) if raw.size else 0
    return GradCheckRow(
        name=name,
        kind=kind,
        shape=shape,
        checked=len(indices),
        size=size,
        error=float(raw.max()) if raw.size else 0.0,
        passed=passed,
        noise=opts["noise"],
        worst_index=indices[worst] if indices else None,
        expected=float(numeric[worst]) if indices else None,
        got=float(got[worst]) if indices else None,
    )


def _random_douts(outs: tuple, seed: int) -> tuple:
    np = backend.host()
    gen = np.random.default_rng(seed + 1)
    douts = []
    for o in outs:
        if _is_scalar(o):
            douts.append(1.0)
        else:
            douts.append(backend.to_device(gen.standard_normal(o.shape), like=o))
    return tuple(douts)


# Two float64 forward passes on the same inputs and random state differ by rounding at most.
_REPEAT_RTOL = 1e-10


def _unrepeatable(first: tuple, second: tuple) -> str | None:
    """Why two forward passes of the same layer on the same inputs differ, or None if they agree.

    Numerical gradients compare forward passes, so they mean nothing when the
    forward pass itself changes from run to run (e.g. random numbers drawn from
    a generator the check cannot replay): the backward pass is not to blame.
    """
    np = backend.host()
    for a, b in zip(first, second, strict=False):
        a = np.asarray(backend.to_host(a), dtype=np.float64)
        b = np.asarray(backend.to_host(b), dtype=np.float64)
        if a.shape == b.shape and ((a == b) | (np.isnan(a) & np.isnan(b))).all():
            continue  # the same, NaN included
        err = rel_error(a, b) if a.shape == b.shape else float("inf")
        if err > _REPEAT_RTOL:
            return (
                f"forward is not repeatable: two runs on the same inputs, with the random state put back "
                f"in between, gave different outputs (max relative difference {err:.1e}), so no gradient "
                "can be checked; the backward pass was not judged. A layer that draws random numbers "
                "from a generator of its own (e.g. np.random.default_rng() made inside forward or at "
                "module level) must draw them from course.backend.rng() or np.random instead, which "
                "the check replays, and forward must not depend on how often it has run."
            )
    return None


def check_layer(
    layer: Any,
    *inputs: Any,
    dout: Any = None,
    tol: float = DEFAULT_TOL,
    h: float = DEFAULT_STEP,
    max_coords: int | None = DEFAULT_MAX_COORDS,
    seed: int = 0,
    check_inputs: bool | Sequence[int] = True,
    forward_kwargs: dict | None = None,
    name: str | None = None,
    method: str = "forward",
    verbose: bool = False,
) -> GradCheckReport:
    """Check a layer's backward pass against numerical gradients in float64.

    Runs ``layer.forward(*inputs)`` and ``layer.backward(dout)`` on a float64
    copy of the layer and compares every parameter gradient (``grads[i]``
    against ``params[i]``) and every returned input gradient with central
    differences of ``sum(forward(...) * dout)``.

    Args:
        layer: any object following the layer contract (params, grads,
            forward, backward), e.g. ``Affine(W, b)``.
        inputs: the forward arguments, e.g. ``x`` (N, D), or ``x, t`` for a
            loss layer. Floating inputs are checked against the gradients
            ``backward`` returns, in order; integer inputs (labels, word ids)
            are passed through unchanged. Host arrays for a layer whose
            weights live on a GPU are copied there first.
        dout: upstream gradient(s) with the shape of the output(s); random
            normal by default, 1 for a scalar loss. A tuple when forward
            returns a tuple (then backward is called as ``backward(*dout)``).
        tol: the largest relative error that passes (default 1e-6).
        h: the finite-difference step.
        max_coords: check at most this many randomly chosen entries of each
            array (``None`` checks every entry).
        seed: picks sampled entries and the random ``dout``.
        check_inputs: True (every floating input), False, or input positions.
        forward_kwargs: extra keyword arguments for forward (e.g.
            ``{"train_flg": True}``).
        verbose: print the report table.

    The random state (Python, NumPy and the course's generators) is replayed
    for every forward pass so dropout masks and negative samples are the same
    each time, and restored afterwards. The layer passed in is not modified.

    Example: ``check_layer(Affine(W, b), x).assert_ok()``.
    """
    title = f"Gradient check of {name or type(layer).__name__} (float64, h={h:g})"
    report = GradCheckReport(title=title, tol=tol)
    problems = _contract_problems(layer)
    if problems:
        for p in problems:
            report.rows.append(_problem_row("layer", "contract", p))
        return _finish(report, verbose)

    snap = backend.rng_snapshot()
    try:
        base = float64_copy(layer)
        inputs64 = [float64_copy(_on_device_of(base, a)) if backend.is_array(a) else a for a in inputs]
        ev = _Evaluator(base, inputs64, dict(forward_kwargs or {}), snap, method)
        work, out = ev.run()
        outs = _as_tuple(out)
        unrepeatable = _unrepeatable(outs, _as_tuple(ev.run()[1]))
        if unrepeatable:
            report.rows.append(_problem_row("forward", "contract", unrepeatable))
            return _finish(report, verbose)
        douts = _as_tuple(float64_copy(dout)) if dout is not None else _random_douts(outs, seed)
        if len(douts) != len(outs):
            raise ValueError(f"forward returned {len(outs)} outputs but {len(douts)} douts were given.")
        grads_before = [id(g) for g in work.grads]
        back = work.backward(*douts)
        analytic_params = [g.copy() if backend.is_array(g) else g for g in work.grads]
        replaced = [id(g) for g in work.grads] != grads_before
        returned = list(_as_tuple(back))
        # A finite difference cannot resolve gradients below this absolute level.
        noise = _FORWARD_RTOL * _projected(outs, douts, absolute=True) / h
        opts = {"tol": tol, "h": h, "max_coords": max_coords, "seed": seed, "noise": noise}
        _check_inputs(report, layer, inputs64, returned, check_inputs, ev, douts, opts, method)
        for pname, p, g in zip(
            _param_names(layer, len(base.params)), base.params, analytic_params, strict=True
        ):
            report.rows.append(_compare(pname, "param", p, g, ev, douts, opts))
        if replaced:
            problem = (
                "backward replaced arrays in `grads` instead of writing into them; use "
                "`self.grads[i][...] = value` so optimizers holding the list see the update"
            )
            report.rows.append(
                GradCheckRow("grads", "contract", (), 0, 0, float("inf"), False, problem=problem)
            )
    finally:
        backend.rng_restore(snap)
    return _finish(report, verbose)


def _check_inputs(
    report: GradCheckReport,
    layer: Any,
    inputs64: list,
    returned: list,
    check_inputs: bool | Sequence[int],
    ev: _Evaluator,
    douts: tuple,
    opts: dict,
    method: str,
) -> None:
    """Match float inputs with the gradients backward returned, in order."""
    float_positions = [i for i, a in enumerate(inputs64) if _is_float_array(a)]
    if check_inputs is False:
        return
    wanted = float_positions if check_inputs is True else [int(i) for i in check_inputs]
    names = _input_names(layer, len(inputs64), method)
    for rank, pos in enumerate(float_positions):
        if pos not in wanted:
            continue
        if rank >= len(returned):
            # The first floating input always needs a gradient; later ones may be
            # constants such as the 0/1 targets of a loss layer.
            if check_inputs is not True or rank == 0:
                shape, size = tuple(inputs64[pos].shape), int(inputs64[pos].size)
                problem = "backward returned no gradient for this input"
                report.rows.append(_problem_row(names[pos], "input", problem, shape, size))
            else:
                report.notes.append(f"{names[pos]}: no gradient returned by backward, treated as a constant")
            continue
        report.rows.append(_compare(names[pos], "input", inputs64[pos], returned[rank], ev, douts, opts))


def _finish(report: GradCheckReport, verbose: bool) -> GradCheckReport:
    if verbose:
        print(report)
    return report


def check_model(model: Any, *batch: Any, **kwargs: Any) -> GradCheckReport:
    """Check a whole model: ``model.forward(*batch)`` must return the scalar loss.

    ``model.backward()`` is called with dout = 1 and every array in
    ``model.grads`` is compared with the numerical gradient of the loss with
    respect to the matching ``model.params`` entry. Inputs are not checked
    unless ``check_inputs=True`` is passed. Other keyword arguments as for
    :func:`check_layer`.

    Example: ``check_model(TwoLayerNet(2, 10, 3), x, t).assert_ok()``.
    """
    kwargs.setdefault("check_inputs", False)
    kwargs.setdefault("dout", 1.0)
    return check_layer(model, *batch, **kwargs)
