"""What the servers tests start have in common: free ports, their log's tail, dying with the test, stopping."""

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


class PortTaken(RuntimeError):
    """The server lost the race for a port we picked: try again with others."""


def free_ports(n: int) -> list[int]:
    """`n` distinct ports that were free on 127.0.0.1 a moment ago (held open together so they are distinct)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def free_port() -> int:
    return free_ports(1)[0]


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"<no log: {e}>"


# Loaded here, not in the child: after a uid switch the child may not be able to read Python's files.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn`: on Linux, the kernel sends the child `sig` if the test process dies first. It runs in
    the child before exec, after any uid switch (which would clear it)."""

    def arm() -> None:
        if _LIBC is not None:
            pr_set_pdeathsig = 1
            _LIBC.prctl(pr_set_pdeathsig, sig)

    return arm


def live_processes() -> dict[int, tuple[int, int, str]]:
    """Live (not zombie) processes: pid -> (parent pid, process group, command line)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # state, ppid, pgrp, ...
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), cmdline)
    return out


def terminate(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM `proc`, and SIGKILL it if it has not exited after `grace_s`."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
