#!/usr/bin/env python3
"""The progress line of `catalog import`, `export` and `generate`.

Each command runs twice: with stderr on a pseudo-terminal (python's pty
module), where a progress line must appear, redrawn with '\\r' and ended by
a summary and a newline; and with stderr on a pipe, where stderr must stay
empty. stdout must be the same both times (progress never touches it).

A progress line appears only for work that lasts over half a second, so
each case makes its command last about a second whatever the machine's
speed: export and generate write to a pipe that the test leaves unread for
SLOW seconds (the command blocks once the pipe is full), and import reads a
pipe the test only writes to after SLOW seconds. Each case is a row of
CASES. Every run is bounded by TIMEOUT.

Usage: progress.py PENNYWORTH_BINARY
"""
import os
import pty
import subprocess
import sys
import tempfile
import threading
import time

SLOW = 1.0  # seconds the test holds a pipe back: twice the reporter's delay
TIMEOUT = 60
ROWS = 20000

# (name, argv after the binary, where the test slows the command down)
CASES = [
    ("generate", ["catalog", "generate", str(ROWS)], "stdout"),
    ("export", ["catalog", "export", "--db", "{db}"], "stdout"),
    ("import", ["catalog", "import", "/dev/stdin", "--db", "{fresh}"], "stdin"),
]


def drain(fd, sink):
    """Reads fd to its end (EOF, or EIO once a pty's other side closed)."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        sink.append(chunk)


def run(binary, argv, slow, feed, tty):
    """Runs one command; returns (exit status, stdout, stderr) as bytes."""
    env = dict(os.environ, PENNYWORTH_LOG="warn")
    if tty:
        master, slave = pty.openpty()
        err_target = slave
    else:
        master, slave = None, None
        err_target = subprocess.PIPE
    p = subprocess.Popen([binary] + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=err_target, env=env)
    if slave is not None:
        os.close(slave)
    out, err = [], []
    err_fd = master if tty else p.stderr.fileno()
    readers = [threading.Thread(target=drain, args=(err_fd, err))]
    if slow == "stdout":
        time.sleep(SLOW)  # the command blocks on a full pipe meanwhile
    readers.append(threading.Thread(target=drain, args=(p.stdout.fileno(), out)))
    for t in readers:
        t.start()
    if slow == "stdin":
        time.sleep(SLOW)
    try:
        p.stdin.write(feed)
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        status = p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    for t in readers:
        t.join(TIMEOUT)
    if master is not None:
        os.close(master)
    return status, b"".join(out), b"".join(err)


def main():
    binary = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="pw-cli-progress-") as tmp:
        jsonl = subprocess.run([binary, "catalog", "generate", str(ROWS)], check=True,
                               capture_output=True, timeout=TIMEOUT).stdout
        db = os.path.join(tmp, "catalog.db")
        subprocess.run([binary, "catalog", "import", "/dev/stdin", "--db", db], input=jsonl,
                       check=True, capture_output=True, timeout=TIMEOUT)
        for name, argv, slow in CASES:
            outputs = {}
            for tty in (True, False):
                fresh = os.path.join(tmp, f"{name}-{tty}.db")
                args = [a.format(db=db, fresh=fresh) for a in argv]
                feed = jsonl if slow == "stdin" else b""
                status, out, err = run(binary, args, slow, feed, tty)
                outputs[tty] = out
                problems = []
                if status != 0:
                    problems.append(f"exit status {status}: {err[-500:]!r}")
                text = err.decode("utf-8", "replace")
                if tty:
                    # The pty turns "\n" into "\r\n"; the line is redrawn with "\r".
                    if f"\r{name}: " not in text or "rows/s" not in text:
                        problems.append(f"no progress line on the terminal: {text[-300:]!r}")
                    if f" rows in " not in text or not text.endswith("\r\n"):
                        problems.append(f"no summary line ending in a newline: {text[-300:]!r}")
                elif err:
                    problems.append(f"stderr is not empty off a terminal: {err[-300:]!r}")
                where = "terminal" if tty else "pipe"
                for problem in problems:
                    print(f"FAIL {name} ({where}): {problem}")
                failures += len(problems)
                if not problems:
                    print(f"ok   {name} ({where})")
            if outputs[True] != outputs[False]:
                print(f"FAIL {name}: stdout differs between the terminal and the pipe run")
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
