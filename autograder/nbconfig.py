"""The nbgrader settings every nnkit course uses."""

from __future__ import annotations

import os
import sys

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

# Feedback without hidden-test source (nbgrader shows it by default): hidden tests are
# cleared and test-cell tracebacks (which quote the failing test line) shrink to the
# error message. Then every output and markdown cell is made inert (no student script
# runs in the page: autograder.sanitize).
FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.feedback_filters.StripTestTracebacks",
    "autograder.feedback_filters.SanitizeOutputs",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader's autograde step with its Execute replaced by the guarded one
# (notebook time limit, dead kernels, output caps, kernels started through
# autograder.execution.kernel, test cells judged in the verifier) and its SaveAutoGrades
# by one that scores test cells from the verifier's verdicts; last, every output is made
# inert (autograder.sanitize) before the formgrader can show it.
AUTOGRADE_PREPROCESSORS = [
    "autograder.execution.execute.GuardedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.verifier.scoring.TrustedSaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.sanitize.SanitizePreprocessor",  # the autograded copy the formgrader shows is inert too
]


def apply_course_defaults(c, root, cell_timeout=None, notebook_timeout=None, memory_mb=None, kernel_env=None):
    """Fill a traitlets ``Config`` ``c`` with the course settings for course root ``root``.

    ``cell_timeout`` and ``notebook_timeout`` are seconds, ``memory_mb`` the
    kernel's address-space limit, ``kernel_env`` extra environment variables
    for the kernels (see :mod:`autograder.execution.kernel`). ``None`` keeps the defaults.
    """
    c.CourseDirectory.root = os.path.abspath(root)
    c.CourseDirectory.course_id = "nnkit"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.enforce_metadata = True
    # A deleted or renamed grade cell is put back from the master instead of silently scoring 0.
    c.OverwriteCells.add_missing_cells = True
    c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    c.Autograde.autograde_preprocessors = list(AUTOGRADE_PREPROCESSORS)
    if cell_timeout is not None:
        c.Execute.timeout = int(cell_timeout)
        c.ExecutePreprocessor.timeout = int(cell_timeout)
    if notebook_timeout is not None:
        c.GuardedExecute.notebook_timeout = int(notebook_timeout)
    if memory_mb is not None:
        c.GradingKernelManager.memory_mb = int(memory_mb)
    from autograder.execution.kernel import kernel_environment

    env = kernel_environment(device=(kernel_env or {}).get("NNKIT_DEVICE", "cpu"))
    env.update(kernel_env or {})
    c.GradingKernelManager.extra_env = {str(k): str(v) for k, v in env.items()}
    return c


def make_config(root, cell_timeout=None, sandbox=False, seed=0, record_dir=None, extra_credit=None, **limits):
    """A fresh ``traitlets.config.Config`` with :func:`apply_course_defaults` applied.

    The kernels and the verifier start under a :class:`SandboxPolicy` of the course (limits; with
    ``sandbox``, in bubblewrap: a loud warning and the rlimits only where it is unavailable).
    ``seed``: the grading run's secret for the hidden tests' random inputs
    (never given to a student's kernel). ``record_dir``: record what is sent to
    each kernel there (for tests). ``extra_credit``: ``{grade_id: points}`` of the manifest's
    ``[extra_credit]`` (:mod:`autograder.extra_credit`).
    """
    from traitlets.config import Config

    c = apply_course_defaults(Config(), root, cell_timeout=cell_timeout, **limits)
    c.GuardedExecute.grading_seed = int(seed)
    if extra_credit:
        c.TrustedSaveAutoGrades.extra_credit = {str(k): float(v) for k, v in extra_credit.items()}
    if record_dir:
        c.GuardedExecute.record_dir = str(record_dir)
    import glob

    from autograder.execution.sandbox import SandboxPolicy, probe

    memory = limits.get("memory_mb")
    nb_timeout = limits.get("notebook_timeout") or 1800
    gpu = (limits.get("kernel_env") or {}).get("NNKIT_DEVICE") == "cuda"
    devices = sorted(glob.glob("/dev/nvidia*")) if gpu else []
    cpu = max(1800, 2 * int(nb_timeout) * (os.cpu_count() or 1))
    # Without ``sandbox`` the same launcher runs the kernel with the same limits, bubblewrap off.
    off = {} if sandbox else {"bwrap": "none"}
    policy = SandboxPolicy.for_course(root, memory_mb=None if gpu else (memory or None), devices=devices,
                                      cpu_seconds=cpu, **off)
    status = probe(policy)
    if sandbox and not status.sandboxed:
        print(f"WARNING: {status.reason}", file=sys.stderr, flush=True)
    c.GradingKernelManager.policy_json = policy.to_json()
    verifier = SandboxPolicy.for_course(root, memory_mb=None if gpu else (memory or None), devices=devices,
                                        cpu_seconds=cpu, packages=["nnkit", "autograder"], hide=[],
                                        hostname="nnkit-verifier", **off)
    c.GuardedExecute.verifier_policy_json = verifier.to_json()
    return c


def ensure_alembic_on_path():
    """Put this interpreter's ``bin/`` first on PATH: nbgrader runs the ``alembic`` executable.

    In this process, a new gradebook's schema version is also read from nbgrader's
    migration scripts directly (:func:`alembic_head`) instead of running
    ``alembic heads`` in a subprocess (5 s here, per new gradebook).
    """
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir] + parts)
    _use_fast_alembic_head()


def alembic_head():
    """The head revision of nbgrader's alembic migrations, read from the version files (None if unsure)."""
    import glob
    import re

    import nbgrader

    revisions, downs = set(), set()
    for path in glob.glob(os.path.join(os.path.dirname(nbgrader.__file__), "alembic", "versions", "*.py")):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        rev = re.search(r"^revision\s*=\s*['\"]([0-9a-f]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\s*=\s*(?:['\"]([0-9a-f]+)['\"]|None)", text, re.M)
        if not rev or not down:
            return None
        revisions.add(rev.group(1))
        if down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _use_fast_alembic_head():
    try:
        import nbgrader.api as api
    except ImportError:  # pragma: no cover - nbgrader is a grader dependency
        return
    if getattr(api.get_alembic_version, "_nnkit", False):
        return
    original = api.get_alembic_version

    def get_alembic_version():
        return alembic_head() or original()

    get_alembic_version._nnkit = True
    api.get_alembic_version = get_alembic_version
