"""The kernel sandbox (autograder/execution/sandbox/): real kernels, real bubblewrap, real nbgrader.

Every check runs student-like code in a real sandboxed ipykernel and looks at
what it could do. Tests that need bubblewrap skip (saying why) without it;
the fallback test runs everywhere.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.execution import sandbox, sandboxed_nbgrader
from autograder.execution.kernel import SandboxKernelManager
from autograder.execution.sandbox import SandboxError, SandboxPolicy, bwrap_available, probe, sandbox_argv
from autograder.execution.sandboxed_nbgrader import apply_sandbox, nbgrader_config_lines

REPO = Path(__file__).resolve().parents[1]
NNKIT_DIR = Path(__import__("nnkit").__file__).resolve().parent

needs_bwrap = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not bwrap_available(),
    reason="bubblewrap is not usable here (install it: `apt-get install -y bubblewrap`); "
           f"probe said: {probe().summary() if sys.platform.startswith('linux') else sys.platform}")


# ---------------------------------------------------------------- helpers


def _probe_cell(code: str) -> str:
    """A cell that runs ``code`` (setting dict ``r``) and prints ``r`` as one JSON line."""
    return "r = {}\n" + textwrap.dedent(code) + "\nimport json as _j; print('RESULT ' + _j.dumps(r))"


def _results(nb) -> dict:
    """Merge the RESULT dicts printed by the cells of an executed notebook."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            for line in (o.get("text") or "").splitlines():
                if line.startswith("RESULT "):
                    out.update(json.loads(line[len("RESULT "):]))
    return out


def _run(cells, policy: SandboxPolicy, workdir: Path, timeout=60, name="probe.ipynb", timeout_func=None):
    """Execute ``cells`` with nbclient in a sandboxed kernel started in ``workdir``; returns (nb, error or None)."""
    from nbclient import NotebookClient
    from traitlets.config import Config

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, workdir / name)
    cfg = Config()
    cfg.SandboxKernelManager.policy_json = policy.to_json()
    client = NotebookClient(nb, kernel_manager_class=SandboxKernelManager, config=cfg, timeout=timeout,
                            timeout_func=timeout_func, interrupt_on_timeout=True,
                            error_on_timeout={"ename": "CellTimeoutError", "evalue": "", "traceback": []},
                            allow_errors=True, startup_timeout=60, resources={"metadata": {"path": str(workdir)}})
    err = None
    try:
        client.execute()
    except Exception as e:  # DeadKernelError when a limit kills the kernel
        err = e
    return nb, err


def _processes_of(uid: int) -> list:
    pids = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.stat(f"/proc/{p}").st_uid == uid:
                    pids.append(int(p))
            except OSError:
                pass
    return pids


@pytest.fixture
def course(tmp_path):
    """A fake course: secrets where nbgrader keeps them, another student's files, a data file, a workdir."""
    root = tmp_path / "course"
    (root / "source" / "a1").mkdir(parents=True)
    (root / "source" / "a1" / "solution.txt").write_text("THE SOLUTION")
    (root / "gradebook.db").write_text("HIDDEN TESTS")
    (root / "submitted" / "bob" / "a1").mkdir(parents=True)
    (root / "submitted" / "bob" / "a1" / "bob.txt").write_text("bob's work")
    (root / "autograded" / "bob" / "a1").mkdir(parents=True)
    (root / "autograded" / "bob" / "a1" / "bob.txt").write_text("bob's graded work")
    work = root / "autograded" / "alice" / "a1"
    work.mkdir(parents=True)
    data = tmp_path / "data" / "numbers.txt"
    data.parent.mkdir()
    data.write_text("1 2 3 4\n")
    return root, work, data


# ---------------------------------------------------------------- policy checks (no kernel)


def test_policy_json_round_trip_and_deny_check(course, tmp_path):
    root, work, data = course
    pol = SandboxPolicy.for_course(root, data_paths=[data], memory_mb=1234)
    assert SandboxPolicy.from_json(pol.to_json()) == pol
    assert str(root / "gradebook.db") in pol.deny and str(root / "source") in pol.deny
    with pytest.raises(SandboxError):
        SandboxPolicy.from_json(json.dumps({"memory": 1}))
    if not bwrap_available():
        pytest.skip("bubblewrap not usable: sandbox_argv needs it")
    # Exposing the course root, source/ or another student's folder is refused; the own workdir is fine.
    for bad in ([str(root)], [str(root / "source" / "a1")], [str(root / "autograded" / "bob")]):
        with pytest.raises(SandboxError, match="refuses"):
            sandbox_argv(SandboxPolicy.for_course(root, data_paths=[], read_only=bad, workdir=str(work)), ["true"],
                         state_dir=str(tmp_path))
    with pytest.raises(SandboxError, match="refuses"):
        sandbox_argv(SandboxPolicy.for_course(root, data_paths=[], workdir=str(root)), ["true"], state_dir=str(tmp_path))
    argv = sandbox_argv(SandboxPolicy.for_course(root, data_paths=[data], workdir=str(work)), ["true"],
                        state_dir=str(tmp_path))
    assert "--unshare-net" in argv and "--die-with-parent" in argv and "--clearenv" in argv
    w = str(work.resolve())
    assert any(argv[i:i + 2] == ["--tmpfs", w] for i in range(len(argv))), "the workdir is a private tmpfs"
    assert any(argv[i:i + 3] == ["--ro-bind", str(data), str(data)] for i in range(len(argv)))


# ---------------------------------------------------------------- confinement


@needs_bwrap
@pytest.mark.slow
def test_kernel_computes_but_is_confined(course, tmp_path, monkeypatch):
    root, work, data = course
    (work / "helper.txt").write_text("mine")
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    imdb = os.environ.get("NNKIT_IMDB_PATH") or str(REPO.parent / "shared" / "data" / "imdb" / "aclImdb_labeled.tar.gz")
    imdb = imdb if os.path.exists(imdb) else None
    if imdb:  # the real data as graders provide it: archive (+ urls/) and nnkit's parsed cache, read-only
        monkeypatch.setenv("NNKIT_IMDB_PATH", str(imdb))
    pol = SandboxPolicy.for_course(root, data_paths=[data] + sandbox.default_data_paths(),
                                   deny=[str(REPO / "source")])
    cells = [
        _probe_cell(f"""
            import os, numpy as np, torch, nnkit, nnkit.grading
            from nnkit.gradcheck import rel_error
            x = torch.randn(64, 8); w = torch.randn(8, 2, requires_grad=True)
            (x @ w).square().sum().backward()
            r['torch_ok'] = bool(torch.isfinite(w.grad).all())
            r['numbers'] = np.loadtxt({str(data)!r}).tolist()
            r['own_file'] = open('helper.txt').read()
            r['nnkit'] = nnkit.__file__
            if os.environ.get('NNKIT_IMDB_PATH'):
                import time
                from nnkit.data import load_imdb
                t0 = time.time()
                texts, labels = load_imdb('test')
                r['imdb'] = [len(texts), int(labels.sum()), round(time.time() - t0, 1)]
        """),
        _probe_cell(f"""
            import os
            def attempt(f):
                try:
                    return 'READ ' + str(f())
                except Exception as e:
                    return type(e).__name__
            r['source'] = attempt(lambda: open({str(root / 'source' / 'a1' / 'solution.txt')!r}).read())
            r['gradebook'] = attempt(lambda: open({str(root / 'gradebook.db')!r}).read())
            r['gradebook_rel'] = attempt(lambda: open('../../../gradebook.db').read())
            r['bob_submitted'] = attempt(lambda: open({str(root / 'submitted' / 'bob' / 'a1' / 'bob.txt')!r}).read())
            r['bob_graded'] = attempt(lambda: open({str(root / 'autograded' / 'bob' / 'a1' / 'bob.txt')!r}).read())
            r['repo_source'] = attempt(lambda: os.listdir({str(REPO / 'source')!r}))
            r['repo_root'] = sorted(os.listdir({str(REPO)!r}))
            r['notebook'] = open('probe.ipynb').read()
            r['secret_env'] = os.environ.get('SECRET_TOKEN')
            r['root_home'] = os.listdir('/root') if os.path.isdir('/root') else []
            r['uid'] = os.getuid()
            r['status'] = {{l.split(':')[0]: l.split()[1] for l in open('/proc/self/status')
                            if l.startswith(('NoNewPrivs', 'CapEff'))}}
        """),
        _probe_cell(f"""
            import socket
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=3).close(); r['loopback'] = 'CONNECTED'
            except OSError as e:
                r['loopback'] = type(e).__name__
            try:
                socket.create_connection(('1.1.1.1', 53), timeout=3).close(); r['internet'] = 'CONNECTED'
            except OSError as e:
                r['internet'] = type(e).__name__
            r['interfaces'] = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])
        """),
        _probe_cell(f"""
            import os
            def write(p):
                try:
                    with open(p, 'w') as f: f.write('x')
                    return 'WROTE'
                except OSError as e:
                    return type(e).__name__
            r['into_nnkit'] = write({str(NNKIT_DIR / 'pwned.py')!r})
            r['into_venv'] = write(os.path.join({sys.prefix!r}, 'pwned.txt'))
            r['into_data'] = write({str(data)!r})
            r['into_workdir'] = write('result.txt')
            r['into_tmp'] = write('/tmp/scratch.txt')
            r['into_notebook'] = write('probe.ipynb')
            os.symlink({str(root / 'gradebook.db')!r}, 'planted_link')
            os.mkfifo('planted_fifo')
        """),
    ]
    t0 = time.time()
    nb, err = _run(cells, pol, work)
    elapsed = time.time() - t0
    try:
        listener.accept()
        accepted = True
    except BlockingIOError:
        accepted = False
    listener.close()
    assert err is None, err
    r = _results(nb)
    # computes normally
    assert r["torch_ok"] and r["numbers"] == [1.0, 2.0, 3.0, 4.0] and r["own_file"] == "mine"
    assert r["nnkit"].startswith(str(NNKIT_DIR))
    if imdb:
        assert r["imdb"][:2] == [25000, 12500], r["imdb"]
        print(f"load_imdb('test') in the sandbox: {r['imdb'][2]} s")
    # reads nothing outside its policy
    for key in ("source", "gradebook", "gradebook_rel", "bob_submitted", "bob_graded", "repo_source"):
        assert not r[key].startswith("READ"), (key, r[key])
    assert set(r["repo_root"]) <= {".venv", "nnkit"}, r["repo_root"]
    # /root holds only what the interpreter needs (pyenv installs live there), not e.g. ~/.cache or ~/.ssh
    needed = {Path(p).relative_to("/root").parts[0] for p in sandbox.python_paths() + pol.read_only
              if p.startswith("/root/")}
    assert set(r["root_home"]) <= needed, r["root_home"]
    assert r["notebook"] == "", "the autograded notebook (with hidden tests) must not be readable"
    assert r["secret_env"] is None
    assert r["uid"] != 0 and r["status"] == {"NoNewPrivs": "1", "CapEff": "0000000000000000"}
    # no network
    assert r["loopback"] != "CONNECTED" and not accepted
    assert r["internet"] != "CONNECTED" and r["interfaces"] == ["lo"]
    # writes only into its workdir (and its private /tmp)
    for key in ("into_nnkit", "into_venv", "into_data", "into_notebook"):
        assert r[key] != "WROTE", key
    assert r["into_workdir"] == "WROTE" and r["into_tmp"] == "WROTE"
    # the workdir is a private tmpfs: what the kernel wrote there is gone with it
    assert not (NNKIT_DIR / "pwned.py").exists() and not (work / "result.txt").exists()
    # links and fifos the kernel planted (for root processes that later copy the folder) are removed
    assert not os.path.lexists(work / "planted_link") and not os.path.lexists(work / "planted_fifo")
    assert data.read_text() == "1 2 3 4\n"
    # after the kernel: files belong to the workdir's owner again, nothing of the kernel's uid is left
    assert work.stat().st_uid == os.getuid()
    assert _processes_of(r["uid"]) == []
    assert not list(Path(tempfile.gettempdir()).glob("nnkit-kernel-*/kernel-sandbox"))
    print(f"confined kernel: {elapsed:.1f} s")


# ---------------------------------------------------------------- limits


@needs_bwrap
@pytest.mark.slow
def test_limits_memory_files_processes_output_cpu(course):
    root, work, data = course
    pol = SandboxPolicy.for_course(root, data_paths=[], memory_mb=2048, cpu_seconds=5, max_processes=50,
                                   max_file_mb=1, max_output_mb=1)
    cells = [
        _probe_cell("""
            import numpy as np
            try:
                a = np.ones((3 * 1024**3) // 8); r['alloc'] = 'ALLOCATED'
            except MemoryError:
                r['alloc'] = 'MemoryError'
            b = np.ones(10**7); r['small_alloc'] = float(b.sum())
        """),
        _probe_cell("""
            try:
                with open('big.bin', 'wb') as f:
                    f.write(b'x' * (2 * 1024 * 1024))
                r['big_file'] = 'WROTE'
            except OSError as e:
                r['big_file'] = type(e).__name__ + ' ' + str(e.errno)
        """),
        _probe_cell("""
            import os, subprocess
            procs, err = [], None
            try:
                for i in range(200):
                    procs.append(subprocess.Popen(['sleep', '60']))
            except OSError as e:
                err = type(e).__name__
            r['started'], r['fork_error'] = len(procs), err
            r['uid'] = os.getuid()
            for p in procs[2:]:  # keep the kernel usable; two stragglers stay for the sandbox to reap
                p.kill(); p.wait()
        """),
        "import time\ntime.sleep(100)",
        "print('alive after interrupt')",
        "import sys\nfor i in range(20):\n    sys.stdout.write('y' * 1024 * 1024)\n    sys.stdout.flush()\n",
        "print('after flood')",
        "raise ValueError('x' * 100000)",
        "while True:\n    pass\n",
    ]
    t0 = time.time()
    nb, err = _run(cells, pol, work, timeout=60, timeout_func=lambda cell: 3 if "sleep(100)" in cell.source else 60)
    elapsed = time.time() - t0
    r = _results(nb)
    # a cell past its timeout is interrupted (by message: signals cannot reach into the sandbox); the kernel lives on
    assert any(o.get("ename") in ("KeyboardInterrupt", "CellTimeoutError") for o in nb.cells[3].outputs), nb.cells[3]
    assert "alive after interrupt" in "".join(o.get("text", "") for o in nb.cells[4].outputs)
    assert r["alloc"] == "MemoryError" and r["small_alloc"] == 1e7
    assert r["big_file"].startswith("OSError") and r["big_file"].endswith(str(27)), r["big_file"]  # EFBIG
    assert not (work / "big.bin").exists()  # (and the private workdir is gone)
    assert r["fork_error"] is not None and 0 < r["started"] < 50, r
    # output past max_output_mb was dropped on the grader's side, with a notice
    flood = "".join(o.get("text", "") for o in nb.cells[5].outputs)
    assert len(flood) <= 1.2 * 1024 * 1024 and "output limit" in "".join(
        o.get("text", "") for c in nb.cells[5:7] for o in c.outputs)
    # ... but errors past the limit are kept (short): flooding cannot make a failing test cell pass
    assert [(o["output_type"], o.get("ename")) for o in nb.cells[7].outputs] == [("error", "ValueError")]
    assert len(nb.cells[7].outputs[0]["evalue"]) <= 200
    # the CPU limit ended the infinite loop (kernel killed by SIGXCPU), well before the 60 s cell timeout
    assert err is not None and "Dead" in type(err).__name__, err
    assert elapsed < 50
    # the fork bomb's processes are gone with the sandbox
    time.sleep(0.5)
    assert _processes_of(r["uid"]) == []
    print(f"limits kernel: {elapsed:.1f} s")


# ---------------------------------------------------------------- no bubblewrap


@pytest.mark.slow
def test_fallback_without_bwrap_warns_loudly_and_keeps_rlimits(course, monkeypatch, caplog, capfd):
    root, work, data = course
    monkeypatch.setenv("NNKIT_BWRAP", "/nonexistent/bwrap")
    pol = SandboxPolicy.for_course(root, data_paths=[], memory_mb=3072, cpu_seconds=300, max_file_mb=5)
    status = probe(pol, refresh=True)
    assert not status.sandboxed and status.summary().startswith("UNSANDBOXED")
    assert "apt-get install bubblewrap" in status.reason
    assert not bwrap_available(pol)
    from traitlets.config import Config

    cfg = Config()
    with caplog.at_level(logging.WARNING, logger="nnkit.sandbox"):
        st = apply_sandbox(cfg, pol)
    assert st == status
    assert any("UNSANDBOXED" in rec.getMessage() for rec in caplog.records)
    assert sandboxed_nbgrader.SandboxedExecute in cfg.Autograde.autograde_preprocessors
    assert SandboxPolicy.from_json(cfg.GradingKernelManager.policy_json) == pol
    # The kernel still runs, with the limits, and the launcher warns in the grader's log.
    nb, err = _run([_probe_cell("""
        import resource, os
        r['as'] = resource.getrlimit(resource.RLIMIT_AS)[0]
        r['fsize'] = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        r['cpu'] = resource.getrlimit(resource.RLIMIT_CPU)[0]
    """)], pol, work)
    assert err is None, err
    r = _results(nb)
    assert r["fsize"] == 5 * 1024 * 1024 and r["cpu"] == 300
    if sys.platform.startswith("linux"):  # macOS does not enforce RLIMIT_AS
        assert r["as"] == 3072 * 1024 * 1024
    captured = capfd.readouterr()
    assert "WARNING: UNSANDBOXED" in captured.err
    probe(refresh=True)


# ---------------------------------------------------------------- kernelspec (other Jupyter front ends)


@needs_bwrap
@pytest.mark.slow
def test_kernelspec_runs_a_sandboxed_kernel(tmp_path, monkeypatch):
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    work = tmp_path / "work"
    work.mkdir()
    name = sandboxed_nbgrader.install_sandbox_kernelspec(tmp_path / "jupyter", SandboxPolicy(deny=[str(REPO / "source")]))
    spec = json.loads((tmp_path / "jupyter" / "kernels" / name / "kernel.json").read_text())
    assert spec["interrupt_mode"] == "message" and "autograder.execution.sandbox.launcher" in spec["argv"]
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    async def run():
        km = AsyncKernelManager(kernel_name=name, transport="ipc", connection_file=str(tmp_path / "k.json"))
        await km.start_kernel(cwd=str(work))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            kc.execute("import os; print(os.getuid(), os.path.exists(%r))" % str(REPO / "source"))
            while True:
                msg = await kc.get_iopub_msg(timeout=30)
                if msg["msg_type"] == "stream":
                    return msg["content"]["text"].split()
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()

    uid, sees_source = asyncio.run(run())
    assert int(uid) != 0 and sees_source == "False"


# ---------------------------------------------------------------- unprivileged user (user namespace mode)


@needs_bwrap
def test_sandbox_argv_as_unprivileged_user(tmp_path, monkeypatch):
    """Instructors who grade as a normal user: bubblewrap with a user namespace (checked as uid 65534)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged uid for the check")
    if not Path("/bin/sh").exists():
        pytest.skip("no /bin/sh")
    base = Path(tempfile.mkdtemp(prefix="nnkit-userns-"))
    try:
        base.chmod(0o755)
        work = base / "work"
        work.mkdir(mode=0o777)
        work.chmod(0o777)
        secret = base / "secret.txt"
        secret.write_text("s3cret")
        secret.chmod(0o644)
        monkeypatch.setattr(sandbox.bwrap, "_privileged", lambda: False)
        monkeypatch.setattr(os, "getuid", lambda: 65534)
        monkeypatch.setattr(os, "getgid", lambda: 65534)
        pol = SandboxPolicy(workdir=str(work), python=False, deny=[str(secret)], max_processes=None, workdir_mb=None)
        state = base / "state"
        state.mkdir()
        argv = sandbox_argv(pol, ["/bin/sh", "-c",
                                  f"cat {secret} || echo DENIED; echo ok > out.txt && echo WROTE; "
                                  "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; id -u"],
                            state_dir=str(state))
        monkeypatch.undo()
        assert "--unshare-user" in argv and "--cap-add" not in argv
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, user=65534, group=65534,
                              extra_groups=[])
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.split()
        assert "s3cret" not in proc.stdout and "DENIED" in lines and "WROTE" in lines
        assert lines[-2:] == ["lo", "65534"]
        assert (work / "out.txt").read_text() == "ok\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- real nbgrader autograde


def _master_notebook():
    cells = [
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata={"nbgrader": {"grade": False, "solution": True, "locked": False,
                                             "grade_id": "add", "schema_version": 3}}),
        new_code_cell("assert add(2, 3) == 5\n### BEGIN HIDDEN TESTS\nassert add(-4, 10) == 6\n### END HIDDEN TESTS",
                      metadata={"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1,
                                             "grade_id": "test_add", "schema_version": 3}}),
    ]
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@needs_bwrap
@pytest.mark.slow
def test_nbgrader_autograde_runs_in_the_sandbox(tmp_path):
    from fixtures.nbgrader_cli import generate_release, kernel_env, new_course, place_submission, read_scores, run_nbgrader

    src = tmp_path / "src"
    (src / "source" / "a1").mkdir(parents=True)
    nbformat.write(_master_notebook(), src / "source" / "a1" / "nb.ipynb")
    course = new_course("a1", tmp_path / "course", source_root=src, cell_timeout=60)
    pol = SandboxPolicy.for_course(course, data_paths=[])
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("\n".join(nbgrader_config_lines(pol)) + "\n")
    env = kernel_env()
    release = generate_release(course, "a1", env=env)
    nb = nbformat.read(release / "nb.ipynb", as_version=4)
    nb.cells[0].source = textwrap.dedent("""
        import os, json
        def add(a, b):
            return a + b
        def peek(path):
            try:
                return open(path).read()[:200]
            except Exception as e:
                return type(e).__name__
        print('STOLEN ' + json.dumps({
            'gradebook': peek('../../../gradebook.db'),
            'source': peek('../../../source/a1/nb.ipynb'),
            'own_notebook': peek('nb.ipynb'),
            'uid': os.getuid(),
            'cwd': os.getcwd(),
        }))
    """)
    place_submission(course, "a1", "alice", {"nb.ipynb": nb})
    before = set(Path(tempfile.gettempdir()).glob("nnkit-kernel-*"))
    t0 = time.time()
    env["TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR"] = "1"  # a broken config must not grade unsandboxed
    proc = run_nbgrader(course, ["autograde", "a1", "--student", "alice", "--force"], env=env)
    elapsed = time.time() - t0
    log = proc.stdout + proc.stderr
    assert f"{sandboxed_nbgrader.LOG_MARKER} sandbox: bubblewrap" in log, log[-3000:]
    scores = read_scores(course, "a1", "alice")
    assert scores.score == 1.0 and scores.max_score == 1.0, scores
    graded = nbformat.read(course / "autograded" / "alice" / "a1" / "nb.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in graded.cells[0].outputs)
    stolen = json.loads(text.split("STOLEN ", 1)[1])
    assert stolen["gradebook"] == "FileNotFoundError" and stolen["source"] == "FileNotFoundError"
    assert stolen["own_notebook"] == "", "hidden tests in the autograded notebook must not be readable"
    assert stolen["uid"] != 0 and stolen["cwd"] == str((course / "autograded" / "alice" / "a1").resolve())
    # nbgrader itself could still do its job: the graded notebook holds the hidden test again
    assert "add(-4, 10)" in graded.cells[1].source
    # nothing left behind: files back to their owner, runtime folders removed
    assert all(p.stat().st_uid == os.getuid() for p in (course / "autograded" / "alice").rglob("*"))
    assert set(Path(tempfile.gettempdir()).glob("nnkit-kernel-*")) <= before
    print(f"nbgrader autograde (sandboxed): {elapsed:.1f} s")


@needs_bwrap
def test_workdir_is_size_limited_and_keeps_nothing_the_kernel_wrote(tmp_path):
    """The kernel's workdir: the files already there are readable and writable, new files count
    against ``workdir_mb`` (writing past it fails) and vanish with the sandbox."""
    if not Path("/bin/sh").exists() or not shutil.which("dd"):
        pytest.skip("no /bin/sh or dd")
    base = Path(tempfile.mkdtemp(prefix="nnkit-disk-"))
    try:
        base.chmod(0o755)
        work = base / "work"
        work.mkdir(mode=0o777)
        work.chmod(0o777)
        (work / "given.txt").write_text("given\n")
        (work / "given.txt").chmod(0o666)
        state = base / "state"
        state.mkdir()
        pol = SandboxPolicy(workdir=str(work), python=False, max_processes=None, workdir_mb=8, max_file_mb=None)
        argv = sandbox_argv(pol, ["/bin/sh", "-c",
                                  "cat given.txt; echo more >> given.txt; "
                                  "dd if=/dev/zero of=big bs=1M count=4 2>/dev/null && echo SMALL-OK; "
                                  "dd if=/dev/zero of=big2 bs=1M count=16 2>/dev/null || echo FULL; "
                                  "rm -f big2; mkdir sub && echo x > sub/f && echo SUB-OK"],
                            state_dir=str(state))
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.split()
        assert lines[0] == "given" and "SMALL-OK" in lines and "FULL" in lines and "SUB-OK" in lines, proc.stdout
        assert sorted(p.name for p in work.iterdir()) == ["given.txt"], "files the kernel wrote stayed on disk"
        assert (work / "given.txt").read_text() == "given\nmore\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)
