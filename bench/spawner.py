"""Runs the benchmark's commands from a small process, so that their peak RSS is their own.

usage: python -m bench.spawner   (one JSON request per stdin line: {"command", "env", "cwd"}; one JSON
answer per stdout line: {"returncode", "seconds", "cpu_seconds", "peak_rss", "stdout", "stderr"})
Linux counts in a process's peak RSS the memory of the process it was started from (the parent's pages at
fork, the whole parent's peak with vfork); the benchmark's own process grows large, this one stays small.
CPU time is user + sys of the command and of every child it waited for (os.wait4).

Every command starts with the disk caught up (`os.sync`, unmeasured): a build writing while the kernel still
flushes the gigabytes the previous build wrote is charged for it. Flickr30K's two-process build took 16-18 s
of system time right after the one-process build, 4.6 s when the earlier output had been written out.
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def run(command: list[str], env: dict, cwd: str) -> dict:
    os.sync()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        return {"returncode": os.waitstatus_to_exitcode(status), "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss": usage.ru_maxrss * 1024,
                "stdout": out.read(), "stderr": err.read()}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run(request["command"], request["env"], request["cwd"])), flush=True)


if __name__ == "__main__":
    main()
