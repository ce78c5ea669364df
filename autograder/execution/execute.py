"""nbgrader's Execute preprocessor, hardened so that no submission can stop a batch.

:class:`GuardedExecute` replaces ``nbgrader.preprocessors.Execute`` in the
autograde step. On top of nbgrader's per-cell timeout it

* enforces a **per-notebook time limit** (``notebook_timeout``): each cell's
  timeout is cut to what is left of the notebook's budget, and once it is spent
  the remaining cells are not run;
* survives a **dead kernel** (``os._exit``, a segfault, the OOM killer): the
  cell that killed it and every later test cell get an error, earlier results
  stand;
* detects a kernel that ignores the interrupt after a cell timeout (a loop
  that swallows ``KeyboardInterrupt``) and stops instead of waiting out every
  later cell;
* keeps at most ``max_output_chars`` of output per cell while the cell runs (a
  cell printing megabytes cannot exhaust the grader's memory);
* never raises: anything that goes wrong outside a cell marks the test cells
  not yet run as failed.

Test cells that were not run get an error output (``NotRun``), because
nbgrader gives full marks to a test cell without output. What happened is
written to the notebook metadata under ``nnkit_grading`` (``problems``: list of
``{"kind", "message"}``; ``seconds``), where :mod:`autograder.execution.worker` reads it.

Kernels start through :class:`autograder.execution.kernel.GradingKernelManager`
(sandboxed or not, by its ``policy_json``); the sandbox status is logged for
every notebook.
"""

from __future__ import annotations

import os
import select
import time
import uuid
from pathlib import Path
from queue import Empty

import zmq
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Integer, Unicode

from autograder.execution.kernel import GradingKernelManager, log_sandbox_status
from autograder.records import ProblemKind, problem
from autograder.verifier import cells as vcells
from autograder.verifier.host import KernelLink, Verdict, VerifierError, VerifierProcess

#: Seconds the kernel's agent gets to connect when a test cell's verification starts.
CONNECT_TIMEOUT = 20

_VERIFIERS = {}


def shared_verifier(policy_json=""):
    """This process's verifier (one per sandbox policy), started on first use and closed at exit."""
    proc = _VERIFIERS.get(policy_json)
    if proc is None:
        import atexit

        policy = None
        if policy_json:
            from autograder.execution.sandbox import SandboxPolicy

            policy = SandboxPolicy.from_json(policy_json)
        proc = _VERIFIERS[policy_json] = VerifierProcess(policy)
        atexit.register(proc.close)
    return proc


def _label(cell, index):
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {index} ({gid})" if gid else f"cell {index}"


def error_output(ename, evalue):
    """An nbformat error output (what a raising cell leaves)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _msg_sizes(msg):
    """``(text characters, rich-media characters)`` of an output message (images count as rich)."""
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", "")), 0
    data = content.get("data") or {}
    if data:
        text = rich = 0
        for mime, value in data.items():
            n = len(value) if isinstance(value, str) else len(str(value))
            if mime.startswith("text/") or mime in ("application/json",):
                text += n
            else:
                rich += n
        return text, rich
    return len(str(content.get("traceback", ""))) + len(str(content.get("evalue", ""))), 0


class GuardedExecute(Execute):
    """``Execute`` with a notebook time limit, dead-kernel handling and output caps (see module doc)."""

    notebook_timeout = Integer(0, help="seconds for the whole notebook, kernel start included (0: none)").tag(config=True)
    max_output_chars = Integer(200_000, help="characters of text output kept per cell (-1: no limit)").tag(config=True)
    max_media_chars = Integer(20_000_000, help="characters of images and other rich output kept per cell "
                                               "(-1: no limit)").tag(config=True)
    interrupt_grace = Integer(5, help="seconds a kernel gets to answer after a timed-out cell is interrupted").tag(config=True)
    kernel_name = Unicode("python3", help="kernel used for every submission (the notebook's own is ignored)").tag(config=True)
    raise_on_iopub_timeout = Bool(False, help="a cell's late output is dropped, never fatal").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)
    verify = Bool(True, help="judge test cells in the verifier (autograder.verifier), not in the kernel").tag(config=True)
    grading_seed = Integer(0, help="secret of this grading run: hidden tests draw their random inputs from it "
                                   "(never given to the student's kernel)").tag(config=True)
    verifier_policy_json = Unicode("", help="SandboxPolicy (JSON) for the verifier process ('' unsandboxed)").tag(config=True)
    record_dir = Unicode("", help="folder where everything sent to the student's kernel is recorded (tests)").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", GradingKernelManager)
        super().__init__(*args, **kwargs)
        self._reset_guards()

    # ---- bookkeeping -------------------------------------------------------------------------
    def _reset_guards(self):
        self._t0 = time.monotonic()
        self._stop = None  # reason string once no further cell may run
        self._problems = []
        self._budget = None
        self._timeout_hit = False
        self._out_chars = {}
        self._dropped = {}
        self._dropped_stderr = set()
        self._ran = set()
        self._verdicts = {}
        self._session = None
        self._prelude = None
        self._link_broken = ""
        self._record = None

    def _problem(self, kind, message):
        self._problems.append(problem(kind, message))

    def _halt(self, kind, message):
        if self._stop is None:
            self._stop = message
            self._problem(kind, message)

    def _mark_not_run(self, cell):
        if cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell):
            cell.outputs = [error_output("NotRun", f"not run: {self._stop}")]
            cell.execution_count = None

    def _remaining(self):
        if not self.notebook_timeout or self.notebook_timeout <= 0:
            return None
        return self.notebook_timeout - (time.monotonic() - self._t0)

    # ---- nbclient hooks ----------------------------------------------------------------------
    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if self._budget is not None:
            timeout = max(1, int(self._budget if timeout is None else min(timeout, self._budget)))
        return timeout

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timeout_hit = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        text, rich = _msg_sizes(msg)
        used_text, used_rich = self._out_chars.get(cell_index, (0, 0))
        over_text = self.max_output_chars is not None and 0 <= self.max_output_chars < used_text + text
        over_rich = self.max_media_chars is not None and 0 <= self.max_media_chars < used_rich + rich
        if over_text or over_rich:
            self._dropped[cell_index] = self._dropped.get(cell_index, 0) + text + rich
            content = msg.get("content", {})
            if msg.get("msg_type") == "error" or (msg.get("msg_type") == "stream" and content.get("name") == "stderr"):
                self._dropped_stderr.add(cell_index)
            return None
        self._out_chars[cell_index] = (used_text + text, used_rich + rich)
        return super().output(outs, msg, display_id, cell_index)

    async def _async_kernel_responds(self, grace):
        """True when the kernel answers a no-op request within ``grace`` seconds."""
        if self.kc is None or not await ensure_async(self.kc.is_alive()):
            return False
        try:
            msg_id = await ensure_async(self.kc.execute("", silent=True, store_history=False))
        except zmq.ZMQError:  # the kernel takes no request (client.SEND_TIMEOUT_MS)
            return False
        deadline = time.monotonic() + grace
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True

    _kernel_responds = run_sync(_async_kernel_responds)

    # ---- preprocessing -----------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._reset_guards()
        self._resources_nbgrader = dict((resources or {}).get("nbgrader", {}))
        try:
            log_sandbox_status(self.log, self.config)
            nb, resources = super().preprocess(nb, resources, km)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # the kernel did not start, or the client failed between cells
            kind = ProblemKind.KERNEL_START_FAILED if not self._ran else ProblemKind.GRADER_ERROR
            what = "the kernel could not start" if kind == ProblemKind.KERNEL_START_FAILED else "grading stopped"
            self._halt(kind, f"{what}: {type(exc).__name__}: {exc}")
            self.log.error("GuardedExecute: %s", self._stop)
        finally:
            self._close_verification()
        if self._stop is not None:
            for index, cell in enumerate(nb.cells):
                if index not in self._ran:
                    self._mark_not_run(cell)
        if resources is None:
            resources = {}
        resources["nnkit_verdicts"] = dict(self._verdicts)
        nb.metadata["nnkit_grading"] = {
            "problems": list(self._problems),
            "seconds": round(time.monotonic() - self._t0, 3),
            "verdicts": {gid: {"passed": v.passed, "message": v.message(), "seconds": v.seconds}
                         for gid, v in self._verdicts.items()},
        }
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._check_assign_resources(resources)
        if self.verify and vcells.is_test_cell(cell):
            return self._preprocess_test_cell(cell, index)
        if cell.cell_type != "code" or not cell.source.strip():
            self._ran.add(index)
            return cell, self.resources
        return self._run_in_kernel(cell, index)

    def _run_in_kernel(self, cell, index):
        """Execute ``cell`` in the student's kernel under the limits (see module doc)."""
        remaining = self._remaining()
        if self._stop is None and remaining is not None and remaining < 1:
            self._halt(ProblemKind.NOTEBOOK_TIMEOUT, f"the notebook time limit ({self.notebook_timeout} s) was reached "
                                         f"before {_label(cell, index)}")
        if self._stop is not None:
            self._mark_not_run(cell)
            self._ran.add(index)
            return cell, self.resources
        self._budget = remaining
        self._timeout_hit = False
        self._record_code(cell.source)
        try:
            cell = self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            cell.outputs.append(error_output(
                "KernelDied", "the kernel died while running this cell (a crash, os._exit, or too much memory)"))
            self._halt(ProblemKind.KERNEL_DIED, f"the kernel died while running {_label(cell, index)}")
        except CellTimeoutError as exc:
            cell.outputs.append(error_output("CellTimeoutError", str(exc).splitlines()[0] if str(exc) else "timeout"))
            self._problem(ProblemKind.CELL_TIMEOUT, f"{_label(cell, index)} timed out")
        except zmq.ZMQError as exc:  # a request (this cell, or the interrupt after its timeout) could not be sent
            cell.outputs.append(error_output("KernelUnresponsive", "the kernel stopped taking requests"))
            self._halt(ProblemKind.KERNEL_UNRESPONSIVE, f"the kernel stopped taking requests at {_label(cell, index)} "
                                                        f"({type(exc).__name__}: {exc})")
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            cell.outputs.append(error_output("GraderError", f"{type(exc).__name__}: {exc}"))
            self._halt(ProblemKind.GRADER_ERROR, f"grading failed at {_label(cell, index)}: {type(exc).__name__}: {exc}")
        finally:
            self._ran.add(index)
            self._budget = None
        if self._timeout_hit and self._stop is None:
            left = self._remaining()
            if left is not None and left < 1:
                self._halt(ProblemKind.NOTEBOOK_TIMEOUT, f"the notebook time limit ({self.notebook_timeout} s) was reached "
                                             f"in {_label(cell, index)}")
            else:
                self._problem(ProblemKind.CELL_TIMEOUT, f"{_label(cell, index)} hit the per-cell time limit ({self.timeout} s)")
                grace = self.interrupt_grace if left is None else max(1, min(self.interrupt_grace, left))
                try:
                    responds = self._kernel_responds(grace)
                except Exception:
                    responds = False
                if not responds:
                    self._halt(ProblemKind.KERNEL_UNRESPONSIVE, f"the kernel did not stop after {_label(cell, index)} timed out")
        if any(o.get("output_type") == "error" and o.get("ename") == "MemoryError" for o in cell.get("outputs", [])):
            self._problem(ProblemKind.MEMORY_LIMIT, f"{_label(cell, index)} ran out of memory (MemoryError under the memory limit)")
        dropped = self._dropped.pop(index, 0)
        if dropped:
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=f"\n[nnkit grader: {dropped} more characters of output dropped]\n"))
            if index in self._dropped_stderr:
                cell.outputs.append(NotebookNode(output_type="stream", name="stderr",
                                                 text="[nnkit grader: error output dropped]\n"))
            kept = sum(self._out_chars.get(index, (0, 0)))
            self._problem(ProblemKind.OUTPUT_TRUNCATED, f"output truncated: {_label(cell, index)} printed {kept + dropped} "
                                            f"characters, the first {kept} were kept")
        self._dropped_stderr.discard(index)
        return cell, self.resources

    # ---- test cells: visible code in the kernel, the verdict from the verifier ---------------
    def _preprocess_test_cell(self, cell, index):
        """Run a test cell's visible code in the kernel (for the student's view), then judge it in the
        verifier (:mod:`autograder.verifier`): the verdict alone decides its score."""
        gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell-{index}"
        original = cell.source
        visible, _ = vcells.split_source(original)
        code = vcells.verdict_code(original)
        if vcells.has_code(visible) and self._stop is None:
            cell.source = visible
            try:
                cell, _ = self._run_in_kernel(cell, index)
            finally:
                cell.source = original
        else:
            cell.outputs = []
            cell.execution_count = None
        self._ran.add(index)
        if self._stop is not None:
            verdict = Verdict(gid, False, ename="NotRun", evalue=f"not run: {self._stop}")
        elif not vcells.has_code(code):
            verdict = Verdict(gid, True)
        else:
            verdict = self._verify(gid, code, cell, index)
        self._verdicts[gid] = verdict
        if verdict.stdout:
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text=verdict.stdout))
        if not verdict.passed:
            cell.outputs.append(error_output(verdict.ename or "AssertionError", verdict.evalue))
        return cell, self.resources

    def _verify(self, gid, code, cell, index):
        try:
            session = self._ensure_session()
        except VerifierError as exc:
            self._problem(ProblemKind.GRADER_ERROR, f"the verifier could not judge {_label(cell, index)}: {exc}")
            return Verdict(gid, False, ename="GraderError", evalue=str(exc), kind=ProblemKind.GRADER_ERROR)
        limits = [t for t in (self.timeout, self._remaining()) if t is not None and t > 0]
        deadline = time.monotonic() + max(1.0, min(limits) if limits else 600.0)
        link = KernelLink(self._open_agent, self._interrupt)
        verdict = session.run_cell(gid, code, link, deadline)
        if verdict.ename == "KernelUnavailable" and not link.broken:
            link.broken = verdict.evalue
        if verdict.kind == "cell_timeout":
            self._problem(ProblemKind.CELL_TIMEOUT, f"{_label(cell, index)} hit the per-cell time limit ({self.timeout} s) "
                                        "while it was judged")
            if session.dead:
                self._session = None  # killed: the next test cell gets a fresh session
        elif verdict.kind == ProblemKind.GRADER_ERROR:
            self._problem(ProblemKind.GRADER_ERROR, f"{_label(cell, index)}: {verdict.evalue}")
            self._session = None
        if link.broken and not self._link_broken:
            self._link_broken = link.broken
            alive = self._kernel_alive()
            if not alive:
                self._halt(ProblemKind.KERNEL_DIED, f"the kernel died before {_label(cell, index)} could be judged")
            else:
                self._problem(ProblemKind.GRADER_CHANNEL, f"{_label(cell, index)}: {link.broken}")
        return verdict

    def _ensure_session(self):
        if self._session is None:
            info = self._resources_nbgrader
            notebook = info.get("notebook") or "notebook"
            if self._prelude is None:
                self._prelude = self._master_prelude(info.get("assignment"), notebook)
            if self.record_dir and self._record is None:
                Path(self.record_dir).mkdir(parents=True, exist_ok=True)
                self._record = open(Path(self.record_dir) / f"{info.get('student', 'student')}-{notebook}.rpc", "ab")
            self._session = shared_verifier(self.verifier_policy_json).session(
                notebook, self.grading_seed, self._prelude, record=self._record)
        return self._session

    def _master_prelude(self, assignment, notebook):
        """The trusted imports of the master notebook (``source/<assignment>/<notebook>.ipynb``)."""
        import nbformat

        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        path = Path(root) / "source" / str(assignment) / f"{notebook}.ipynb"
        try:
            return vcells.prelude(nbformat.read(path, as_version=4))
        except (OSError, ValueError) as exc:
            raise VerifierError(f"cannot read the master notebook {path}: {exc}") from None

    def _kernel_alive(self):
        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001
            return False

    async def _async_send_comm_open(self):
        from nnkit.remote.agent import COMM_TARGET

        msg = self.kc.session.msg("comm_open", {"comm_id": uuid.uuid4().hex, "target_name": COMM_TARGET, "data": {}})
        self.kc.shell_channel.send(msg)

    def _open_agent(self):
        """A socket connected to the kernel's agent (it connects when the comm is opened)."""
        if self._link_broken:
            raise ConnectionError(self._link_broken)
        listener = getattr(self.km, "rpc_listener", None)
        if listener is None:
            raise ConnectionError("the kernel was started without the grader's channel")
        try:
            run_sync(self._async_send_comm_open)()
        except zmq.ZMQError as exc:
            raise ConnectionError(f"the kernel takes no request ({type(exc).__name__}: {exc})") from None
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([listener.sock], [], [], 0.25)
            if ready:
                conn, _ = listener.sock.accept()
                conn.setblocking(True)
                return conn
            if not self._kernel_alive():
                raise ConnectionError("the kernel died")
        raise ConnectionError("the notebook's kernel did not answer the grader within "
                              f"{CONNECT_TIMEOUT} s (a cell disabled the grading agent, or the kernel is stuck)")

    def _interrupt(self):
        try:
            run_sync(self.km.interrupt_kernel)()
        except zmq.ZMQError:  # the kernel takes no request: the verifier's deadline ends the cell anyway
            pass

    def _record_code(self, source):
        if self.record_dir:
            if self._record is None:
                info = self._resources_nbgrader
                Path(self.record_dir).mkdir(parents=True, exist_ok=True)
                self._record = open(Path(self.record_dir) / f"{info.get('student', 'student')}-"
                                    f"{info.get('notebook', 'notebook')}.rpc", "ab")
            self._record.write(b"execute:" + source.encode("utf-8", "replace") + b"\n")

    def _close_verification(self):
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._record is not None:
            self._record.close()
            self._record = None
