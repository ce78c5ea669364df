"""The names the verifier gives every hidden test, on top of the trusted imports.

``fetch(x)``
    A trusted copy of remote ``x`` (an error when it is not plain data).
``keep(x)``
    A view of remote ``x`` whose calls, attributes and items stay in the
    student's kernel (references, not copies): ``keep(model).params['W1'] = W``
    sets the student's array; ``out = keep(layer)(x); keep(out).sum().backward()``.
``to_kernel(x)``
    Send plain data ``x`` to the kernel once and get a reference to the copy
    there: pass it to many calls without sending it again.
``kernel``
    The student kernel's modules: ``kernel.torch.nn.Linear(3, 2)`` builds a
    layer there (a :class:`~autograder.verifier.proxy.Remote`),
    ``kernel.torch.manual_seed(s)`` seeds the kernel's generator.
``notebook.<name>``
    A notebook name read afresh (a bare name is read once per test cell).
``is_instance(x, cls)``
    ``isinstance`` that also works for remote objects (by qualified class name);
    a test's plain ``isinstance`` is this one too.
``twin(build)``
    ``(trusted, remote)``: the same torch module built here and in the kernel,
    with equal parameters; ``build(nn)`` builds it from ``torch.nn`` or the
    kernel's ``torch.nn``.
``seed(k)`` / ``exact_seed(k)``
    See :mod:`autograder.verifier.seeding`.
``grader_cache(key, cls, build)``
    ``build()`` (an instance of ``cls``: ``dict`` for a dict of numpy arrays, or a class with ``save(file)``
    and a ``load(file)`` class method that read no pickles, e.g. :class:`nnkit.data.NgramVectorizer`), made
    once per grading worker: the first test that asks for ``key`` builds it and saves it in the verifier's
    own folder, and the sessions of later notebooks of that worker load it. For work that depends on no
    student value beyond what ``key`` names: a reference fitted on the grader's own copy of the data, or a
    reference recipe trained with fixed seeds on checked data. ``key`` is a string or a tuple of strings,
    numbers, numpy arrays and scipy sparse matrices; arrays and matrices count by dtype, shape and content:
    ``grader_cache(("final recipe", X_train, y_train), dict, train)``.
``with_references(name=function, ...)``
    The notebook's ``name`` rebound to ``function``, a plain function of the
    test (it runs here, as a callback the student's code calls), so that a test
    of the student's network runs on the reference versions of the layers
    another notebook grades: ``with with_references(affine_forward=_affine_forward):
    model.loss(X, y)``. The notebook's own objects come back when the ``with``
    block ends; called without ``with`` (a hidden block at the top of a test
    cell, so that the cell's visible code runs on the references too), at the
    end of the test cell. The function's source never reaches the kernel; an
    exception it raises arrives there as its type and message only.
    ``check=probe`` first compares: ``probe(f)`` calls the functions as
    ``f.<name>(...)`` on inputs it draws itself and returns what they give (and
    the inputs, to catch a function that changes them); when the notebook's own
    functions give what the references give (up to rounding), nothing is
    rebound and the cell runs without callbacks; when they differ, raise or are
    missing, every name is rebound. ``.rebound`` lists the names rebound.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import types

from autograder.verifier.proxy import Remote, RemotePath

#: Folder of :func:`grader_cache` files (the zygote sets it, in the verifier's working folder, before any fork).
CACHE_DIR = None


def grader_cache(key, cls, build):
    """``build()``, an instance of ``cls``, or the copy an earlier session of this verifier saved for ``key``
    (see module doc). Without a cache folder, or when saving fails, it is simply built."""
    if CACHE_DIR is None:
        return build()
    digest = hashlib.sha256(f"{cls.__module__}.{cls.__qualname__}\n".encode())
    for part in key if isinstance(key, tuple) else (key,):
        _digest_part(digest, part)
    digest = digest.hexdigest()[:32]
    path = os.path.join(CACHE_DIR, f"{digest}.npz")
    if os.path.isfile(path):
        try:
            return _load_arrays(path) if cls is dict else cls.load(path)
        except (OSError, ValueError, KeyError):
            pass  # an unreadable copy (a session killed while writing cannot leave one): build it again
    value = build()
    if not isinstance(value, cls):
        raise TypeError(f"grader_cache({key!r}): build() returned {type(value).__name__}, not {cls.__name__}")
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            if cls is dict:
                import numpy as np

                np.savez(f, **{str(k): np.asarray(v) for k, v in value.items()})
            else:
                value.save(f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return value


def _digest_part(digest, part):
    """Add one part of a :func:`grader_cache` key to ``digest``: its kind, then its value (arrays by content)."""
    import numpy as np

    if hasattr(part, "tocsr") and hasattr(part, "nnz"):  # a scipy sparse matrix, by its CSR arrays
        csr = part.tocsr()
        digest.update(f"sparse {csr.shape} {csr.dtype}\n".encode())
        for a in (csr.data, csr.indices, csr.indptr):
            _digest_part(digest, np.asarray(a))
    elif isinstance(part, np.ndarray):
        if part.dtype.hasobject:
            raise TypeError("grader_cache: a key holds an object array, which has no stable content to name it by")
        digest.update(f"array {part.shape} {part.dtype}\n".encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, (str, int, float, bool, type(None))):
        digest.update(f"{type(part).__name__} {part!r}\n".encode())
    else:
        raise TypeError(f"grader_cache: a key part of type {type(part).__name__} (use str, numbers, numpy arrays, "
                        "scipy sparse matrices)")


def _load_arrays(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def fetch(value):
    """A trusted copy of ``value`` (a :class:`Remote` or :class:`RemotePath`); other values unchanged."""
    if isinstance(value, Remote):
        return value._nnkit_endpoint.request("fetch", target=value, strict=True)
    if isinstance(value, RemotePath):
        return value._nnkit_endpoint().request("path", target=value, strict=True)
    return value


def keep(value):
    """``value`` (a :class:`Remote` or :class:`RemotePath`) whose results stay in the student's kernel."""
    if isinstance(value, Remote):
        return Remote(value._nnkit_endpoint, value._nnkit_node, keep=True)
    if isinstance(value, RemotePath):
        return RemotePath(value._nnkit_endpoint, value._nnkit_path, keep=True)
    raise TypeError(f"keep() takes an object of the student's notebook, not a {type(value).__name__} "
                    "(that is already a copy here)")


def is_instance(value, cls):
    """``isinstance(value, cls)``, also for a :class:`Remote` (compared by qualified class name)."""
    if isinstance(value, Remote):
        classes = cls if isinstance(cls, tuple) else (cls,)
        mro = set(value._nnkit_node.get("mro") or [])
        for c in classes:
            name = c if isinstance(c, str) else f"{c.__module__}.{c.__qualname__}"
            if name in mro:
                return True
        return False
    return isinstance(value, cls)



def to_kernel(value, endpoint_getter):
    """``value`` (plain data) copied into the kernel once; a :class:`Remote` to that copy."""
    return endpoint_getter().request("store", args=(value,), keep=True)


class NotebookNames:
    """``notebook.<name>``: the current value of a notebook name, read afresh at every use."""

    __slots__ = ("_nnkit_endpoint_getter",)

    def __init__(self, endpoint_getter):
        object.__setattr__(self, "_nnkit_endpoint_getter", endpoint_getter)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._nnkit_endpoint_getter().request("name", args=(name,))

    def __repr__(self):
        return "<the student's notebook>"


def twin(build, kernel):
    """``(trusted, remote)`` torch modules built by ``build(nn)`` with equal parameters (see module doc)."""
    import torch

    trusted = build(torch.nn)
    remote = build(kernel.torch.nn)
    keep(remote).load_state_dict(trusted.state_dict())
    return trusted, remote


class References:
    """Names of the student's notebook rebound to functions of the test (see :func:`with_references`).

    Entering binds nothing more (the names are rebound when this is made); leaving
    restores the notebook's own objects, as :meth:`restore` does (once).
    """

    def __init__(self, namespace, saved, active):
        self._namespace = namespace  # a Remote of the kernel's user namespace (a live dict)
        self._saved = saved          # name -> the notebook's own object (a Remote), or _ABSENT
        self._active = active
        active.append(self)

    @property
    def rebound(self):
        """The names rebound (in order; empty when ``check`` found the notebook's own functions the same)."""
        return list(self._saved)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.restore()
        return False

    def restore(self):
        """Give the notebook its own objects back (names it did not define are removed again)."""
        if self not in self._active:
            return
        self._active.remove(self)
        problem = None
        for name, original in reversed(list(self._saved.items())):
            try:
                if original is _ABSENT:
                    del self._namespace[name]
                else:
                    self._namespace[name] = original
            except Exception as exc:  # noqa: BLE001 - restore the others, then report the first problem
                problem = problem or exc
        if problem is not None:
            raise problem


_ABSENT = object()


def _as_callback(function, name):
    """``function`` as it runs for the student's code: an exception it raises reaches the kernel as its type and
    message only, with no frame of the test (names, line numbers) in the traceback sent there."""
    if not callable(function) or isinstance(function, (Remote, RemotePath)):
        raise TypeError(f"with_references: {name}= must be a function of the test, not {function!r}")

    def reference(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raised without the test's frames
            try:
                clean = type(exc)(*exc.args)
            except Exception:  # noqa: BLE001 - an exception class with another signature
                clean = RuntimeError(f"{type(exc).__name__}: {exc}")
        raise clean from None

    return reference


_RTOL = {True: 1e-9, False: 1e-5}  # 64-bit floats, and 32-bit or smaller ones


def _same(got, expected):
    """``got`` (from the notebook's functions) equals ``expected`` (from the references) up to rounding: arrays of
    the same shape and dtype, numbers, and sequences and dicts of them."""
    import numpy as np

    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != expected.shape or got.dtype != expected.dtype:
            return False
        if expected.dtype.kind not in "fc":
            return bool(np.array_equal(got, expected))
        rtol = _RTOL[expected.dtype.itemsize >= 8 or expected.dtype.kind == "c" and expected.dtype.itemsize >= 16]
        finite = np.abs(expected[np.isfinite(expected)])
        atol = rtol * float(finite.max()) if finite.size else 0.0  # rounding is relative to the array's scale
        return bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(expected, (bool, np.bool_)) or expected is None or isinstance(expected, str):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, (int, float, complex, np.number)):
        rtol = _RTOL[not isinstance(expected, np.floating) or expected.dtype.itemsize >= 8]
        return (isinstance(got, (int, float, complex, np.number)) and not isinstance(got, (bool, np.bool_))
                and bool(np.isclose(got, expected, rtol=rtol, atol=1e-12, equal_nan=True)))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(_same(g, e) for g, e in zip(got, expected)))
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(_same(got[k], expected[k]) for k in expected)
    raise TypeError(f"with_references(check=...): the probe returned a {type(expected).__name__}, "
                    "compare arrays, numbers, and lists, tuples and dicts of them")


def _notebook_agrees(check, functions, endpoint_getter):
    """Whether the notebook's own functions give, under ``check``, what ``functions`` give (see module doc)."""
    expected = check(types.SimpleNamespace(**functions))  # a probe that fails on the references is the test's bug
    try:
        got = check(NotebookNames(endpoint_getter))
    except Exception:  # noqa: BLE001 - a missing function, or one that raises: it differs
        return False
    return _same(got, expected)


def with_references(functions, endpoint_getter, active, check=None):
    """Rebind names of the student's notebook to ``functions`` ({name: function of the test}) until the
    returned :class:`References` is restored (a ``with`` block's end, else the end of the test cell:
    ``active`` is the session's list of bindings, which :func:`restore_references` empties). With
    ``check``, only when the notebook's own functions differ from them (see module doc)."""
    if not functions:
        raise TypeError("with_references() needs at least one name=function")
    wrapped = {name: _as_callback(fn, name) for name, fn in functions.items()}
    if check is not None and _notebook_agrees(check, functions, endpoint_getter):
        return References(None, {}, active)
    shell = RemotePath(endpoint_getter, "IPython.get_ipython")()
    if shell is not None:
        namespace = keep(shell).user_ns  # the kernel's user namespace: what notebook code resolves names in
    else:  # a plain Python process (no IPython shell): the names of __main__
        namespace = RemotePath(endpoint_getter, "builtins.vars", keep=True)(RemotePath(endpoint_getter, "__main__"))
    saved = {}
    bindings = References(namespace, saved, active)
    try:
        for name, function in wrapped.items():
            saved[name] = keep(namespace).get(name) if name in namespace else _ABSENT
            namespace[name] = function
    except BaseException:
        with contextlib.suppress(Exception):
            bindings.restore()
        raise
    return bindings


def restore_references(active):
    """Restore every binding of :func:`with_references` still in place (the end of a test cell); returns the
    first problem met (an exception) or None."""
    problem = None
    while active:
        try:
            active[-1].restore()
        except Exception as exc:  # noqa: BLE001 - the verdict stands; the kernel is probably gone
            problem = problem or exc
    return problem


def names(endpoint_getter, mixer, references=None):
    """The helper names of a test namespace (see module doc); ``references``: the session's list of
    :func:`with_references` bindings in place (restored by :func:`restore_references` after each cell)."""
    from autograder.verifier.seeding import ExactSeed

    kernel = RemotePath(endpoint_getter)
    active = [] if references is None else references
    return {"fetch": fetch, "keep": keep, "kernel": kernel, "notebook": NotebookNames(endpoint_getter),
            "is_instance": is_instance, "isinstance": is_instance, "to_kernel": lambda value: to_kernel(value, endpoint_getter),
            "twin": lambda build: twin(build, kernel), "seed": mixer.seed, "exact_seed": ExactSeed,
            "grader_cache": grader_cache,
            "with_references": lambda check=None, **functions: with_references(functions, endpoint_getter, active, check)}
