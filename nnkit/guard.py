"""Kernel-side tamper guard, installed when a grading kernel starts.

The grader starts every kernel with ``exec_lines`` that call :func:`install`
before any notebook cell runs (:data:`KERNEL_ARGUMENT`). It lives in nnkit
because the sandboxed kernel can import nnkit and nothing of the grader. The guard snapshots what hidden tests rely on
(the namespaces of numpy, math, builtins, nnkit's grading helpers, and torch's
from the moment torch is first imported;
IPython's execution hooks; sys hooks) and adds a Python audit hook, which no
code can remove. Then:

- at the start of every notebook cell it compares the live state with the
  snapshot; anything changed is put back before the cell runs and reported;
- interpreter-walking operations (``gc.get_objects``, ``sys._current_frames``,
  ``ctypes``), patching a library class, signalling the kernel's own process,
  or opening a protected file for writing are reported when they happen.

A report is one line ``nnkit-guard: <what>`` written to the running cell's
stderr through the kernel's original output stream. nbgrader scores a test
cell with stderr output 0, and the grader reads these lines back from the
executed notebook to void the notebook and name the reason. The guard keeps
its state only in closures, never in reachable module globals, and never
raises from the hook (a traceback would expose its frame), except to refuse
writes to protected files.
"""

from __future__ import annotations

MARKER = "nnkit-guard:"
# Reports that only stop the kernel (the cells it stops score 0 anyway): named in the
# export, but they do not void the notebook (autograder.notebook.integrity).
SIGNAL_REPORT = "signals the kernel's own process"
REPORT_ONLY = frozenset({SIGNAL_REPORT})
# A kernel start-up line (IPKernelApp.exec_lines) that installs the guard before any cell runs.
STARTUP_LINE = "import nnkit.guard as _g; _g.install(); del _g"
KERNEL_ARGUMENT = "--IPKernelApp.exec_lines=" + repr([STARTUP_LINE])


def install(protected_paths=(), modules=("numpy", "numpy.testing", "numpy.linalg", "math", "builtins",
                                         "nnkit", "nnkit.grading", "nnkit.gradcheck"),
            lazy_modules=("torch", "torch.testing", "torch.nn", "torch.nn.functional")):
    """Install the guard in this kernel. Returns None; keeps no reachable state.

    ``protected_paths``: folders that must not be opened for writing (the
    installed nnkit and autograder packages are always added).
    ``modules``: modules imported now and whose namespaces are snapshotted
    (those that fail to import are skipped).
    ``lazy_modules``: snapshotted when the first of them is imported (at
    install when one already is): the guard imports them all from inside that
    import, so no notebook code runs between their import and their snapshot,
    and a kernel that never imports torch does not pay for it.
    """
    import importlib
    import os
    import sys
    import threading

    snap_mods = {}
    # classes that those namespaces export (torch.Tensor, nn.Module, ...): patching a
    # method on them is not an audited event, so their dicts are compared too
    snap_classes = {}

    # bound now: the hook, and a lazy snapshot, may run inside a notebook cell that patched builtins or importlib
    _getattr, _isinstance, _str, _type, _id, _vars = getattr, isinstance, str, type, id, vars
    _list, _dict = list, dict
    _import_module = importlib.import_module

    def snapshot(names):
        for name in names:
            try:
                mod = _import_module(name)
            except Exception:  # noqa: BLE001 - torch may be absent on a numpy-only machine
                continue
            saved = _dict(_vars(mod))
            if name == "builtins":  # IPython swaps these in and out around every cell
                for k in ("_", "__", "___", "exit", "quit", "get_ipython", "display", "__IPYTHON__",
                          "input", "raw_input"):
                    saved.pop(k, None)
            snap_mods[name] = (mod, saved)
            for value in saved.values():
                if (_isinstance(value, _type) and _id(value) not in snap_classes
                        and _str(_getattr(value, "__module__", "")).startswith(("numpy", "torch", "nnkit"))):
                    try:
                        snap_classes[_id(value)] = (value, _dict(_vars(value)))
                    except TypeError:
                        pass

    snapshot(modules)
    lazy_roots = tuple({n.split(".")[0] for n in lazy_modules})
    lazy_state = {"pending": bool(lazy_modules), "busy": False}
    if lazy_modules and any(n in sys.modules for n in lazy_roots):
        snapshot(lazy_modules)
        lazy_state["pending"] = False

    paths = []
    for name in ("nnkit", "autograder"):
        try:  # the sandbox shows the kernel nnkit but not autograder
            mod = sys.modules.get(name) or importlib.import_module(name)
        except ImportError:
            continue
        paths.append(os.path.dirname(os.path.abspath(mod.__file__)))
    paths.extend(os.path.abspath(p) for p in protected_paths)
    paths = tuple(p.rstrip(os.sep) + os.sep for p in paths)

    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:  # noqa: BLE001
        shell = None
    shell_attrs = ("ast_transformers", "input_transformers_post", "input_transformers_cleanup",
                   "custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "displayhook",
                   "compile")
    shell_snapshot = {}
    list_snapshot = {}
    shell_dict_keys = set()
    if shell is not None:
        shell_dict_keys = set(vars(shell))
        for a in shell_attrs:
            if hasattr(shell, a):
                v = getattr(shell, a)
                shell_snapshot[a] = v
                if isinstance(v, list):
                    list_snapshot[a] = list(v)
    # methods of the shell's class (not traits such as active_eventloop, which IPython sets itself)
    shell_class_methods = ({k for k in dir(type(shell)) if callable(getattr(type(shell), k, None))
                            and not k.startswith("__")} if shell is not None else set())

    sys_snapshot = {k: getattr(sys, k) for k in ("modules", "meta_path", "path_hooks")}
    meta_path = list(sys.meta_path)
    stream = sys.stderr
    stream_cls = type(stream)
    write = stream_cls.write
    flush = getattr(stream_cls, "flush", None)
    known_threads = {t.ident for t in threading.enumerate()}
    protected_prefixes = ("numpy", "torch", "nnkit", "builtins", "IPython", "ipykernel", "autograder", "math", "scipy")
    my_pid = os.getpid()
    my_ppid = os.getppid()
    reported = set()

    def report(what):
        if what in reported:
            return
        reported.add(what)
        try:
            write(stream, f"{MARKER} {what}\n")
            if flush is not None:
                flush(stream)
        except Exception:  # noqa: BLE001 - the report must never break the kernel
            pass

    def library_wrapper_of(new, old):
        """True when ``new`` is a library decorator's wrapper around ``old``
        (torch wraps some functions lazily, e.g. torch.manual_seed)."""
        for _ in range(5):
            code = _getattr(new, "__code__", None)
            if code is None or is_cell(code):
                return False
            new = _getattr(new, "__wrapped__", None)
            if new is None:
                return False
            if new is old:
                return True
        return False

    def check_and_restore():
        found = []
        modules_now = sys.modules
        if lazy_state["pending"]:  # put there by notebook code without an import (a fake module)
            for name in _list(modules_now):
                if name.split(".")[0] in lazy_roots:
                    found.append(f"sys.modules[{name!r}] (set without importing it)")
                    modules_now.pop(name, None)
        for name, (mod, saved) in snap_mods.items():
            if modules_now.get(name) is not mod:
                found.append(f"sys.modules[{name!r}]")
                modules_now[name] = mod
            live = mod.__dict__
            for key, value in saved.items():
                if live.get(key, value) is not value or key not in live:
                    if key in live and library_wrapper_of(live[key], value):
                        saved[key] = live[key]
                        continue
                    found.append(f"{name}.{key}")
                    live[key] = value
        for cls, saved in snap_classes.values():
            live = cls.__dict__
            if len(live) == len(saved) and all(live.get(k) is v for k, v in saved.items()):
                continue
            for k in _list(live):
                if k not in saved:
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{k} (added)")
                    try:
                        delattr(cls, k)
                    except Exception:  # noqa: BLE001
                        pass
            for k, v in saved.items():
                if live.get(k, v) is not v or k not in live:
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{k}")
                    try:
                        setattr(cls, k, v)
                    except Exception:  # noqa: BLE001
                        pass
        if shell is not None:
            for a, v in shell_snapshot.items():
                if shell.__dict__.get(a, v) is not v:
                    found.append(f"IPython shell.{a}")
                    shell.__dict__[a] = v
            for a, items in list_snapshot.items():
                lst = shell_snapshot[a]
                if _list(lst) != items:
                    found.append(f"IPython shell.{a} (contents)")
                    lst[:] = items
            for k in _list(shell.__dict__):
                if k not in shell_dict_keys and k in shell_class_methods:
                    found.append(f"IPython shell.{k} (method replaced)")
                    del shell.__dict__[k]
        for k, v in sys_snapshot.items():
            if _getattr(sys, k) is not v:
                found.append(f"sys.{k}")
                setattr(sys, k, v)
        if _list(sys.meta_path) != meta_path:
            found.append("sys.meta_path (import hooks)")
            sys.meta_path[:] = meta_path
        if sys.gettrace() is not None:
            found.append("sys.settrace (a tracer is installed)")
            sys.settrace(None)
        if sys.getprofile() is not None:
            found.append("sys.setprofile (a profiler is installed)")
            sys.setprofile(None)
        for t in threading.enumerate():
            if t.ident not in known_threads and t.is_alive() and _type(t).__module__ not in ("ipykernel.iostream", "IPython.core.history", "threading"):
                if not t.daemon:
                    found.append(f"a background thread {t.name!r} runs into the next cell")
        return found

    stdlib = os.path.dirname(os.path.abspath(os.__file__))
    installed = tuple({os.path.join(os.path.abspath(p), "") for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, stdlib)})
    ctypes_dir = os.path.join(stdlib, "ctypes", "")

    def from_installed_library():
        """True when the code that called into ctypes is an installed library's (stdlib or
        site-packages: numpy, torch and scipy load their binaries this way), not notebook
        code or a file the notebook wrote."""
        frame = sys._getframe(2)
        while frame is not None and _str(frame.f_code.co_filename).startswith(ctypes_dir):
            frame = frame.f_back
        if frame is None:
            return True
        fn = _str(frame.f_code.co_filename)
        return fn.startswith(installed) and not is_cell(frame.f_code)

    def is_cell(code):
        fn = _getattr(code, "co_filename", "")
        return _isinstance(fn, _str) and ("ipykernel_" in fn or fn.startswith("<ipython-input"))

    watched = frozenset({"exec", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                         "sys._current_frames", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
                         "ctypes.addressof", "ctypes.string_at", "ctypes.PyObj_FromPtr",
                         "object.__setattr__", "object.__delattr__", "os.kill", "os.killpg", "open",
                         "sys.addaudithook", "import"})

    def hook(event, args):
        if event not in watched or lazy_state["busy"]:  # busy: the guard itself imports torch
            return
        try:
            if event == "import":
                name = args[0] if args else None
                if (lazy_state["pending"] and _isinstance(name, _str)
                        and name.split(".")[0] in lazy_roots):
                    lazy_state["busy"] = True
                    try:
                        snapshot(lazy_modules)
                    finally:
                        lazy_state["pending"] = lazy_state["busy"] = False
            elif event == "exec":
                if args and is_cell(args[0]):
                    reported.clear()
                    for what in check_and_restore():
                        report(f"restored {what}, changed by an earlier cell")
            elif event in ("object.__setattr__", "object.__delattr__"):
                obj = args[0]
                # only a change made by notebook code counts (libraries set class attributes on import)
                if (_isinstance(obj, _type) and _str(_getattr(obj, "__module__", "")).startswith(protected_prefixes)
                        and is_cell(sys._getframe(1).f_code)):
                    report(f"patches class {obj.__module__}.{obj.__qualname__}.{args[1]}")
            elif event in ("os.kill", "os.killpg"):
                if args and args[0] in (my_pid, my_ppid, 0, -1):
                    report(SIGNAL_REPORT)
            elif event == "open":
                path, mode = args[0], args[1]
                if _isinstance(path, (_str, bytes)) and _isinstance(mode, _str) and any(c in mode for c in "wax+"):
                    p = os.path.abspath(os.fsdecode(path))
                    if p.startswith(paths):
                        report(f"opens {p} for writing")
                        raise PermissionError(f"{p} is read-only during grading")
            elif event == "sys.addaudithook":
                report("adds an audit hook")
            elif event.startswith("ctypes."):
                if not from_installed_library():
                    report(f"calls {event}")
            else:
                report(f"calls {event}")
        except PermissionError:
            raise
        except Exception:  # noqa: BLE001 - never break the kernel from the hook
            pass

    sys.addaudithook(hook)
