#!/usr/bin/env python3
"""What `--help` and `--version` say: each command's help names the
database it would use and the environment variables it reads, one row of
CASES per command (a new command is a new row). The database shown must be
the one the environment selects, so each help runs with PENNYWORTH_DB set
to a path no test could mistake. Usage: help.py PENNYWORTH_BINARY
"""
import os
import re
import subprocess
import sys

DB = "/nonexistent/pw-help-test.db"
DB_ROWS = [DB, "PENNYWORTH_DB", "PENNYWORTH_LOG"]
PROVIDERS = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID"]

# (argv, what the help must mention)
CASES = [
    (["--help"], ["backup", "restore", "--version"] + DB_ROWS),
    (["serve", "--help"], DB_ROWS + ["PENNYWORTH_ADMIN_KEY", "PENNYWORTH_MCP_STATE_KEY",
                                     "/mcp", "/ws", "/v1", "/admin/"] + PROVIDERS),
    (["stdio", "--help"], DB_ROWS + ["PENNYWORTH_MCP_STATE_KEY"]),
    (["catalog", "--help"], DB_ROWS),
    (["catalog", "import", "--help"], DB_ROWS),
    (["catalog", "export", "--help"], DB_ROWS),
    (["keys", "--help"], DB_ROWS + ["PENNYWORTH_ADMIN_KEY"]),
    (["usage", "--help"], DB_ROWS + ["PENNYWORTH_ADMIN_KEY"]),
    (["backup", "--help"], DB_ROWS + ["--force", "quick_check", "restore"]),
    (["restore", "--help"], DB_ROWS + ["DB.bak", "serve"]),
]


def main():
    binary = sys.argv[1]
    env = dict(os.environ, PENNYWORTH_DB=DB)
    failures = 0
    for argv, wanted in CASES:
        r = subprocess.run([binary] + argv, capture_output=True, text=True, env=env, timeout=30)
        missing = [w for w in wanted if w not in r.stdout]
        if r.returncode != 0 or missing or r.stderr:
            print(f"FAIL {' '.join(argv)}: status {r.returncode}, missing {missing}, "
                  f"stderr {r.stderr[:200]!r}")
            failures += 1
        else:
            print(f"ok   {' '.join(argv)}")
    v = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    if not re.fullmatch(r"pennyworth \d+\.\d+\.\d+( \(commit [0-9a-f]{7,40}\))?\n", v.stdout):
        print(f"FAIL --version: {v.stdout!r}")
        failures += 1
    else:
        print(f"ok   --version: {v.stdout.strip()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
