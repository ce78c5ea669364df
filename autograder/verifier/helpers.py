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
"""

from __future__ import annotations

from autograder.verifier.proxy import Remote, RemotePath

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


def names(endpoint_getter, mixer):
    """The helper names of a test namespace (see module doc)."""
    from autograder.verifier.seeding import ExactSeed

    kernel = RemotePath(endpoint_getter)
    return {"fetch": fetch, "keep": keep, "kernel": kernel, "notebook": NotebookNames(endpoint_getter),
            "is_instance": is_instance, "isinstance": is_instance, "to_kernel": lambda value: to_kernel(value, endpoint_getter),
            "twin": lambda build: twin(build, kernel), "seed": mixer.seed, "exact_seed": ExactSeed}
