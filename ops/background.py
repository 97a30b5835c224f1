"""Local background processes that outlive the ``pcfx`` command starting them: pid files, liveness, stopping.

A process is recognised by its pid file *and* its command line, so a pid the OS has since given to another
program is never mistaken for ours, and never signalled.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def spawn(command: list[str], log: Path, pid_file: Path) -> int:
    """Start ``command`` in its own session (so it survives our exit), output appended to ``log``; return its pid."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def running_pid(pid_file: Path, *markers: str) -> int | None:
    """Pid in ``pid_file`` if that process is alive and its command line contains every marker, else None."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not alive(pid):
        return None
    command = command_line(pid)
    return pid if all(marker in command for marker in markers) else None


def stop(pid: int, timeout_s: float, progress: Callable[[str], None]) -> None:
    """SIGTERM, wait up to ``timeout_s`` seconds for a clean exit, then SIGKILL (and say so via ``progress``)."""
    os.kill(pid, signal.SIGTERM)
    if not wait_for_exit(pid, timeout_s):
        progress(f"pid {pid} still running {timeout_s:g} s after SIGTERM; sending SIGKILL")
        os.kill(pid, signal.SIGKILL)
        wait_for_exit(pid, timeout_s)


def alive(pid: int) -> bool:
    """True while ``pid`` runs. Reaps it first if it is our own exited child (else it lingers as a zombie)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: the signal-0 probe below decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours to signal
    return True


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """True once ``pid`` has exited, False if it still runs after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def command_line(pid: int) -> str:
    """The command line of ``pid``, arguments joined by spaces: from /proc on Linux, from ``ps`` elsewhere."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.parent.exists():
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""
    found = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return found.stdout


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) so two processes never run a step at once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
