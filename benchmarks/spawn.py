"""Run a command and report its wall time and peak RSS as JSON: a small parent for children.

Linux carries a process's peak RSS across exec, and a child forked from the harness starts
as a copy of it: measured directly, every child would "peak" at the harness's own size.
Forked from this small process instead, the child's peak is its own.

    python benchmarks/spawn.py RESULT_FILE COMMAND ...
"""

import json
import os
import subprocess
import sys
import time


def main() -> int:
    """Run the command with inherited standard streams; write the measurement to RESULT_FILE."""
    result_file, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(
            {
                "seconds": seconds,
                "maxrss_kb": usage.ru_maxrss,
                "returncode": os.waitstatus_to_exitcode(status),
            },
            out,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
