#!/usr/bin/env python3
"""Replays MCP transcripts against `pennyworth stdio` and checks every reply.

A transcript is fixtures/transcripts/NAME.jsonl: one JSON object per line,
each a step (adding a case is adding a file):

  {"send": {...}}            write this message as one line to the server
  {"send_raw": "text"}       write this text (plus a newline) as it is
  {"send_repeat": ["x", N, "suffix"]}  write "x" N times then suffix (big lines);
                             ["prefix", "x", N, "suffix"] writes prefix first
  {"recv": PATTERN}          the next line from the server must match PATTERN
  {"recv_any_order": [P...]} the next len(P) lines match these in some order
  {"quiet_ms": N}            nothing may arrive for N ms
  {"cli": ["catalog", ...]}  run `pennyworth ARGS --db DB` (same database)
  {"sleep_ms": N}            wait
  {"close": true}            close the server's stdin; it must exit 0 after
                             the remaining recv steps
  {"restart": {"env": {...}}}  close the server's stdin, require exit 0, and
                             start a new server on the same database with
                             these extra environment variables (state that
                             must survive a restart, or must not)
  {"comment": "..."}         ignored

PATTERN is JSON compared exactly, except: the string "$save:NAME" matches
any string and remembers it, and in a later "send" the string
"$load:NAME" (or "$load:NAME+suffix") stands for it (for values the server
makes up, like a sealed requestState); the string "$any" matches any
value, "$string"/"$number"/"$int"/"$array"/"$object"/"$bool" match by type,
and an object with the key "..." set to true may have further keys.

Usage: run.py PENNYWORTH_BINARY TRANSCRIPT_DIR_OR_FILES...
Prints one line per case and a final "N passed, N failed".
"""
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10.0


SAVED = {}


def load(v):
    """Replaces "$load:NAME[+suffix]" strings in a message to send."""
    if isinstance(v, str) and v.startswith("$load:"):
        name, _, suffix = v[6:].partition("+")
        return SAVED.get(name, "") + suffix
    if isinstance(v, dict):
        return {k: load(x) for k, x in v.items()}
    if isinstance(v, list):
        return [load(x) for x in v]
    return v


def match(pat, val, path="$"):
    """Returns None when val matches pat, else a message naming the path."""
    if isinstance(pat, str) and pat.startswith("$save:"):
        if not isinstance(val, str):
            return f"{path}: expected a string to save, got {json.dumps(val)[:200]}"
        SAVED[pat[6:]] = val
        return None
    if isinstance(pat, str) and pat.startswith("$"):
        kinds = {
            "$any": lambda v: True,
            "$string": lambda v: isinstance(v, str),
            "$number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "$int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "$array": lambda v: isinstance(v, list),
            "$object": lambda v: isinstance(v, dict),
            "$bool": lambda v: isinstance(v, bool),
        }
        if pat in kinds:
            return None if kinds[pat](val) else f"{path}: expected {pat}, got {json.dumps(val)[:200]}"
    if isinstance(pat, dict):
        if not isinstance(val, dict):
            return f"{path}: expected an object, got {json.dumps(val)[:200]}"
        partial = pat.get("...") is True
        for k, p in pat.items():
            if k == "...":
                continue
            if k not in val:
                return f"{path}.{k}: missing"
            m = match(p, val[k], f"{path}.{k}")
            if m:
                return m
        if not partial:
            extra = [k for k in val if k not in pat]
            if extra:
                return f"{path}: unexpected keys {extra}"
        return None
    if isinstance(pat, list):
        if not isinstance(val, list) or len(val) != len(pat):
            return f"{path}: expected {json.dumps(pat)[:200]}, got {json.dumps(val)[:200]}"
        for i, (p, v) in enumerate(zip(pat, val)):
            m = match(p, v, f"{path}[{i}]")
            if m:
                return m
        return None
    if type(pat) != type(val) and not (isinstance(pat, (int, float)) and isinstance(val, (int, float)) and not isinstance(val, bool)):
        return f"{path}: expected {json.dumps(pat)}, got {json.dumps(val)[:200]}"
    return None if pat == val else f"{path}: expected {json.dumps(pat)[:200]}, got {json.dumps(val)[:200]}"


class Server:
    def __init__(self, binary, db, extra_env=None):
        env = dict(os.environ, PENNYWORTH_LOG="error", **(extra_env or {}))
        self.p = subprocess.Popen([binary, "stdio", "--db", db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.p.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return None
            if self.sel.select(left):
                chunk = self.p.stdout.read(65536)
                if not chunk:
                    self.eof = True
                else:
                    self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        err = self.p.stderr.read().decode(errors="replace")
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass
        return err


def run_case(binary, path):
    SAVED.clear()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "catalog.db")
        srv = Server(binary, db)
        closed = False
        try:
            for n, raw in enumerate(open(path, encoding="utf-8"), 1):
                if not raw.strip():
                    continue
                step = json.loads(raw)
                where = f"{os.path.basename(path)}:{n}"
                if "send" in step:
                    msg = load(step["send"])
                    srv.send(json.dumps(msg, separators=(",", ":")).encode() + b"\n")
                elif "send_raw" in step:
                    srv.send(step["send_raw"].encode("utf-8", "surrogateescape") + b"\n")
                elif "send_bytes_hex" in step:
                    srv.send(bytes.fromhex(step["send_bytes_hex"]) + b"\n")
                elif "send_repeat" in step:
                    parts = step["send_repeat"]
                    prefix = parts[0] if len(parts) == 4 else ""
                    text, count, suffix = parts[-3:]
                    srv.send(prefix.encode() + text.encode() * count + suffix.encode() + b"\n")
                elif "recv" in step or "recv_any_order" in step:
                    pats = [step["recv"]] if "recv" in step else list(step["recv_any_order"])
                    for _ in range(len(pats)):
                        line = srv.line(TIMEOUT)
                        if line is None:
                            return f"{where}: no reply within {TIMEOUT}s (expected {json.dumps(pats[0])[:300]})"
                        try:
                            got = json.loads(line)
                        except ValueError:
                            return f"{where}: server wrote a line that is not JSON: {line[:300]!r}"
                        errs = [match(p, got) for p in pats]
                        if None not in errs:
                            return f"{where}: {errs[0]}\n  got: {line[:1000].decode(errors='replace')}"
                        pats.pop(errs.index(None))
                elif "quiet_ms" in step:
                    line = srv.line(step["quiet_ms"] / 1000.0)
                    if line is not None:
                        return f"{where}: expected silence, got {line[:300]!r}"
                elif "cli" in step:
                    r = subprocess.run([binary] + step["cli"] + ["--db", db], capture_output=True,
                                       timeout=30, env=dict(os.environ, PENNYWORTH_LOG="error"))
                    if r.returncode != step.get("status", 0):
                        return f"{where}: cli {step['cli']} exited {r.returncode}: {r.stderr[:300]!r}"
                elif "sleep_ms" in step:
                    time.sleep(step["sleep_ms"] / 1000.0)
                elif "close" in step:
                    srv.p.stdin.close()
                    closed = True
                elif "restart" in step:
                    srv.p.stdin.close()
                    try:
                        rc = srv.p.wait(timeout=TIMEOUT)
                    except subprocess.TimeoutExpired:
                        return f"{where}: server did not exit before the restart"
                    err = check_exit(srv.stop(), rc)
                    if err:
                        return f"{where}: before the restart: {err}"
                    srv = Server(binary, db, step["restart"].get("env"))
                elif "comment" in step:
                    pass
                else:
                    return f"{where}: unknown step {raw.strip()[:100]}"
            if closed:
                try:
                    rc = srv.p.wait(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    return f"{os.path.basename(path)}: server did not exit after end of input"
                if rc != 0:
                    return f"{os.path.basename(path)}: server exited {rc} after end of input"
            line = srv.line(0.2)
            if line is not None:
                return f"{os.path.basename(path)}: unexpected extra line {line[:300]!r}"
        finally:
            stderr = srv.stop()
        err = check_exit(stderr, srv.p.returncode)
        if err:
            return f"{os.path.basename(path)}: {err}"
    return None


def check_exit(stderr, rc):
    """Why a server's end was wrong (a sanitizer report, a bad status), or None."""
    if "ERROR: AddressSanitizer" in stderr or "runtime error:" in stderr:
        return f"sanitizer report:\n{stderr[-3000:]}"
    if rc not in (0, -9):
        return f"server exited {rc}: {stderr[-2000:]}"
    return None


def main():
    binary, targets = sys.argv[1], sys.argv[2:]
    files = []
    for t in targets:
        if os.path.isdir(t):
            files += sorted(os.path.join(t, f) for f in os.listdir(t) if f.endswith(".jsonl"))
        else:
            files.append(t)
    passed = failed = 0
    for f in files:
        err = run_case(binary, f)
        if err:
            failed += 1
            print(f"FAIL {os.path.basename(f)}\n  {err}")
        else:
            passed += 1
            print(f"ok   {os.path.basename(f)}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not files else 0)


if __name__ == "__main__":
    main()
