"""Kernel launcher: run a Jupyter kernel command inside the nnkit sandbox.

    python -m autograder.execution.sandbox.launcher (--policy FILE | --policy-json JSON) -- KERNEL_ARGV...

``KERNEL_ARGV`` is the kernel's usual command line with ``-f CONNECTION_FILE``
(e.g. ``python -m ipykernel_launcher -f {connection_file}``). The launcher
runs outside the sandbox, in the folder jupyter_client starts the kernel in
(the policy's workdir when it gives none). It

1. makes a private runtime folder next to the connection file, writes the
   kernel a copy of the connection file whose unix sockets live in that folder
   (bound into the sandbox at ``/run/nnkit-kernel``), and links the socket
   paths the client knows to them: a TCP transport cannot cross the network
   namespace, so the ``ipc`` transport is required;
2. run as root, lends the workdir to the kernel's fresh uid;
3. starts ``bwrap ... KERNEL_ARGV`` with the policy's rlimits, waits for it
   (SIGTERM kills the sandbox; SIGINT is ignored: interrupts are messages);
4. restores ownership and removes the runtime folder and socket links.

Without a usable bubblewrap it prints a loud ``WARNING: UNSANDBOXED`` line to
stderr (nbgrader's log) and runs the kernel with the rlimits only.
"""

from __future__ import annotations


import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

from autograder.execution.sandbox.policy import INNER_RUNTIME, SandboxError, SandboxPolicy
from autograder.execution.sandbox.bwrap import _privileged, kernel_uid, probe, sandbox_argv, sandbox_env
from autograder.execution.limits import rlimit_preexec


RPC_ENV = "NNKIT_RPC_SOCKET"
INNER_RPC = "/run/nnkit-rpc"
PORT_NAMES = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


def runtime_dir_for(connection_file: str) -> str:
    """The private runtime folder the launcher uses for a kernel (next to its connection file)."""
    return os.path.splitext(os.path.realpath(connection_file))[0] + "-sandbox"


def _say(msg: str) -> None:
    print(f"[nnkit sandbox] {msg}", file=sys.stderr, flush=True)


def _connection_file(kernel_argv) -> int:
    """Index in ``kernel_argv`` of the connection file (the value of ``-f`` / ``--f=``)."""
    for i, a in enumerate(kernel_argv):
        if a == "-f" and i + 1 < len(kernel_argv):
            return i + 1
    raise SandboxError("kernel command has no `-f CONNECTION_FILE`")


def _walk_lchown(top: str, uid: int, gid: int, only_uid=None) -> None:
    """lchown ``top`` and everything below it (symlinks not followed), optionally only entries owned by ``only_uid``."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            try:
                if only_uid is None or os.lstat(name).st_uid == only_uid:
                    os.lchown(name, uid, gid)
            except OSError:
                pass


def _remove_planted(workdir: str, uid: int) -> None:
    """Delete symlinks, fifos, sockets and device nodes the kernel (``uid``) left in its workdir.

    A symlink planted there (say ``x -> /etc/shadow``) would otherwise be
    followed by root processes that later read or copy the folder (feedback).
    """
    for dirpath, dirnames, filenames in os.walk(workdir):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if st.st_uid == uid and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                    os.unlink(path)
                    _say(f"removed {path} (not a regular file) left by the kernel")
            except OSError:
                pass


def cleanup_state(runtime_dir: str) -> None:
    """Undo what a launcher set up for one kernel (idempotent): ownership, socket links, runtime folder."""
    state_file = os.path.join(runtime_dir, "etc", "state.json")
    try:
        with open(state_file) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = None
    if state:
        if state.get("uid") is not None:
            _remove_planted(state["workdir"], state["uid"])
            _walk_lchown(state["workdir"], state["owner_uid"], state["owner_gid"], only_uid=state["uid"])
        for link in state.get("links", []):
            try:
                if os.path.islink(link) and os.readlink(link).startswith(runtime_dir + "/"):
                    os.unlink(link)
            except OSError:
                pass
    shutil.rmtree(runtime_dir, ignore_errors=True)


def _prepare_runtime(conn_path: str, policy: SandboxPolicy, uid):
    """Create the kernel's runtime folder; returns (runtime_dir, inner connection file, state)."""
    with open(conn_path) as f:
        conn = json.load(f)
    if conn.get("transport", "tcp") != "ipc" and not policy.allow_network:
        raise SandboxError("a sandboxed kernel has no network: start it with the ipc transport "
                           "(c.KernelManager.transport = 'ipc', or use autograder.execution.sandbox.SandboxKernelManager)")
    if conn.get("transport") == "ipc" and not os.path.isabs(conn.get("ip", "")):
        raise SandboxError(f"the connection file gives a relative ipc path ({conn.get('ip')!r}); the launcher "
                           "cannot tell where the client looks: set an absolute KernelManager.ip")
    rt = runtime_dir_for(conn_path)
    cleanup_state(rt)
    os.makedirs(os.path.join(rt, "etc"), mode=0o755)
    os.chmod(rt, 0o700)
    inner = dict(conn)
    links = []
    if conn.get("transport") == "ipc":
        inner["ip"] = f"{INNER_RUNTIME}/kernel"
        for name in PORT_NAMES:
            port = conn.get(name)
            if port:
                outer = f"{conn['ip']}-{port}"
                if os.path.lexists(outer):
                    os.unlink(outer)
                os.symlink(os.path.join(rt, f"kernel-{port}"), outer)
                links.append(os.path.abspath(outer))
    inner_conn = os.path.join(rt, "connection.json")
    with open(inner_conn, "w") as f:
        json.dump(inner, f)
    if uid is not None:
        os.chown(rt, uid, uid)
        os.chown(inner_conn, uid, uid)
    return rt, inner_conn, links


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parent = os.getppid()
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    cut = argv.index("--")
    ap = argparse.ArgumentParser(prog="python -m autograder.execution.sandbox.launcher")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--policy", help="SandboxPolicy JSON file")
    g.add_argument("--policy-json", help="SandboxPolicy as JSON text")
    opts = ap.parse_args(argv[:cut])
    kernel_argv = argv[cut + 1:]
    if opts.policy:
        with open(opts.policy) as f:
            policy = SandboxPolicy.from_json(f.read())
    else:
        policy = SandboxPolicy.from_json(opts.policy_json)
    workdir = os.path.realpath(policy.workdir or os.getcwd())
    policy.workdir = workdir

    status = probe(policy)
    preexec = rlimit_preexec(policy, sandboxed_uid=status.sandboxed and _privileged())
    state = {}
    rt = None
    if status.sandboxed:
        uid = kernel_uid(policy) if _privileged() else None
        i = _connection_file(kernel_argv)
        conn_path = os.path.realpath(kernel_argv[i])
        try:
            rt, inner_conn, links = _prepare_runtime(conn_path, policy, uid)
            kernel_argv[i] = f"{INNER_RUNTIME}/connection.json"
            st = os.stat(workdir)
            state = {"workdir": workdir, "uid": uid, "owner_uid": st.st_uid, "owner_gid": st.st_gid, "links": links}
            with open(os.path.join(rt, "etc", "state.json"), "w") as f:
                json.dump(state, f)
            binds = [(rt, INNER_RUNTIME)]
            rpc = os.environ.get(RPC_ENV)
            if rpc and os.path.isdir(os.path.dirname(rpc)):  # the grader's RPC socket (see autograder.execution.kernel)
                binds.append((os.path.dirname(rpc), INNER_RPC))
                policy.env[RPC_ENV] = f"{INNER_RPC}/{os.path.basename(rpc)}"
            cmd = sandbox_argv(policy, kernel_argv, state_dir=os.path.join(rt, "etc"), extra_binds=binds, uid=uid)
            if uid is not None:
                _walk_lchown(workdir, uid, uid)
        except (SandboxError, OSError) as e:
            _say(f"cannot start the sandboxed kernel: {e}")
            if rt:
                cleanup_state(rt)
            return 1
        proc = subprocess.Popen(cmd, preexec_fn=preexec, stdin=subprocess.DEVNULL)
    else:
        _say(f"WARNING: {status.reason}")
        env = sandbox_env(policy, os.environ, os.getuid())
        env["HOME"] = env["TMPDIR"] = env["MPLCONFIGDIR"] = env["IPYTHONDIR"] = workdir
        for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "JUPYTER_RUNTIME_DIR"):
            env.pop(k, None)
        proc = subprocess.Popen(kernel_argv, cwd=workdir, env=env, preexec_fn=preexec, stdin=subprocess.DEVNULL)

    def on_term(signum, frame):
        try:
            proc.kill()
        except OSError:
            pass

    def watch_parent():
        # The process that started us (nbgrader) is gone: stop the kernel (polling: PR_SET_PDEATHSIG
        # would fire when the starting *thread* ends).
        while proc.poll() is None:
            if os.getppid() != parent:
                _say("the grader is gone: stopping the kernel")
                on_term(signal.SIGTERM, None)
                return
            time.sleep(0.5)

    threading.Thread(target=watch_parent, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        rc = proc.wait()
    finally:
        if rt:
            cleanup_state(rt)
    sig = -rc if rc < 0 else (rc - 128 if rt and rc > 128 else 0)  # bwrap exits 128+N when the kernel dies of signal N
    if sig:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = {signal.SIGXCPU: " (CPU time limit reached)", signal.SIGKILL: " (killed)"}.get(sig, "")
        _say(f"kernel ended by {name}{why}")
        return 128 + sig
    return rc

if __name__ == "__main__":
    sys.exit(main())
