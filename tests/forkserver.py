"""A cbrun process without paying for `import tensorflow` again: forked from a warm server.

A test that checks what only a process shows (an exit code, a signal's effect, a SIGKILL
mid-write) needs its own process, but not a cold one: `import tensorflow` is most of a
short run's time. Each pytest worker, once it has imported TensorFlow, Keras and cbrun
(and before any test runs an op), forks a server; the server forks a child per request.
The child is a real process with its own pid, cwd, environment and stdio pipes; it runs
`cbrun.cli.main` and its exit status (or the signal that ended it) comes back as
`returncode`, as from `subprocess`.

What a forked child does not prove: how TensorFlow is imported (its console chatter, the
quiet loader, `--help` without TensorFlow) or anything TensorFlow reads from the
environment when it loads. Those tests start `python -m cbrun` cold (`fresh=True`).

The server is forked before TensorFlow has run a single op (it only imports), so each
child starts TensorFlow's runtime, its thread pools and its determinism settings from
scratch. Forked rather than started as `python -m tests.forkserver`: that would import
TensorFlow a second time in every worker (measured about 5 CPU-seconds each).
"""

from __future__ import annotations

import atexit
import faulthandler
import io
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import warnings

_REQUEST_BYTES = 1 << 20


# -- the server ----------------------------------------------------------------------------


def _warm_imports() -> None:
    from cbrun.backend import import_keras

    import_keras()
    # The modules a training run loads, so a child imports none of them itself.
    import cbrun.api  # noqa: F401
    import cbrun.cli.main  # noqa: F401
    import cbrun.run.runner  # noqa: F401


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _as_a_fresh_interpreter() -> None:
    """Undo what the pytest worker this was forked from set up for itself: its warning
    filters (`error`, and ResourceWarning shown), its log handlers, its fault handler and
    its exit handlers. A child then writes to stderr what `python -m cbrun` would."""
    atexit._clear()
    faulthandler.disable()
    warnings.resetwarnings()  # then CPython's defaults, as `python -W` lists them
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category, append=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def _run_child(request: dict) -> None:
    """In the forked child: become `cbrun ARGS` in the request's cwd and environment."""
    _as_a_fresh_interpreter()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False))
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), errors="strict")
    sys.stderr = io.TextIOWrapper(
        open(2, "wb", buffering=0, closefd=False), errors="backslashreplace", line_buffering=True
    )
    sys.argv = ["cbrun", *request["args"]]
    code = 1
    interrupted = False
    try:
        from cbrun.cli.main import main

        main()
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        interrupted = True
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    if interrupted:  # as Python itself ends on an uncaught Ctrl-C: by the signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _start_child(listener, connection, children: dict) -> None:
    message, fds, _, _ = socket.recv_fds(connection, _REQUEST_BYTES, 3)
    pid = os.fork()
    if pid == 0:
        for server_end in (listener, connection, *children.values()):
            server_end.close()
        for fd, target in zip(fds, (0, 1, 2), strict=True):
            os.dup2(fd, target)
            os.close(fd)
        try:
            _run_child(json.loads(message))
        finally:
            os._exit(1)
    for fd in fds:
        os.close(fd)
    connection.sendall(json.dumps({"pid": pid}).encode())
    children[pid] = connection


def _reap(children: dict) -> None:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        connection.sendall(json.dumps({"returncode": code}).encode())
        connection.close()


def serve(listener, worker_gone: int) -> None:
    """Fork a child per request on `listener` until `worker_gone` reads its end of file
    (the pytest worker that forked this server ended)."""
    children: dict = {}
    while True:
        readable, _, _ = select.select([listener, worker_gone], [], [], 0.05)
        if worker_gone in readable:
            return
        if listener in readable:
            connection, _ = listener.accept()
            _start_child(listener, connection, children)
        _reap(children)


# -- the client ----------------------------------------------------------------------------


class ForkedProcess:
    """The part of `subprocess.Popen`'s interface the tests use, for a forked cbrun."""

    def __init__(self, address: str, args: list, cwd, env: dict):
        self.args = ["cbrun", *args]
        self.returncode = None
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        stdin = os.open(os.devnull, os.O_RDONLY)
        self._connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._connection.connect(address)
        request = {"args": list(args), "cwd": str(cwd), "env": env}
        payload = [json.dumps(request).encode()]
        socket.send_fds(self._connection, payload, [stdin, out_write, err_write])
        for fd in (stdin, out_write, err_write):
            os.close(fd)
        self.pid = json.loads(self._connection.recv(_REQUEST_BYTES))["pid"]
        self.stdout = open(out_read, encoding="utf-8", errors="replace")
        self.stderr = open(err_read, encoding="utf-8", errors="replace")

    def poll(self):
        if self.returncode is None:
            ready, _, _ = select.select([self._connection], [], [], 0)
            if ready:
                self.wait()
        return self.returncode

    def wait(self, timeout=None):
        if self.returncode is None:
            self._connection.settimeout(timeout)
            try:
                reply = self._connection.recv(_REQUEST_BYTES)
            except TimeoutError:
                raise subprocess.TimeoutExpired(self.args, timeout) from None
            self.returncode = json.loads(reply)["returncode"]
            self._connection.close()
        return self.returncode

    def send_signal(self, sig) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def communicate(self, timeout=None):
        """Read both pipes to their end, then the exit status; like Popen.communicate."""
        texts = {}

        def drain(name, stream):
            texts[name] = stream.read()

        readers = [
            threading.Thread(target=drain, args=(name, stream), daemon=True)
            for name, stream in (("out", self.stdout), ("err", self.stderr))
            if not stream.closed
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout)
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)
        self.wait(timeout)
        for stream in (self.stdout, self.stderr):
            stream.close()
        return texts.get("out", ""), texts.get("err", "")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.poll() is None:
            self.kill()
            self.wait()
        for stream in (self.stdout, self.stderr):
            stream.close()


class ForkServer:
    """The server of this pytest worker, forked from it now: call once the worker has
    imported TensorFlow and before any test runs an op."""

    def __init__(self):
        _warm_imports()
        self._address = os.path.join(tempfile.mkdtemp(prefix="cbrun-forkserver-"), "socket")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(self._address)
        listener.listen(16)
        gone_read, self._worker_alive = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self._pid = os.fork()
        if self._pid == 0:  # the server: it never returns into pytest
            os.close(self._worker_alive)
            try:
                serve(listener, gone_read)
            finally:
                os._exit(0)
        os.close(gone_read)
        listener.close()

    def start(self, args, cwd, env: dict) -> ForkedProcess:
        return ForkedProcess(self._address, [str(a) for a in args], cwd, env)

    def close(self) -> None:
        os.close(self._worker_alive)
        os.waitpid(self._pid, 0)
