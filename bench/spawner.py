"""Runs the benchmark's commands from a small process, so that their peak RSS is their own.

usage: python -m bench.spawner   (one JSON request per stdin line: {"command", "env", "cwd"}; one JSON
answer per stdout line: {"returncode", "seconds", "cpu_seconds", "peak_rss", "stdout", "stderr"})
Linux counts in a process's peak RSS the memory of the process it was started from (the parent's pages at
fork, the whole parent's peak with vfork); the benchmark's own process grows large, this one stays small.
CPU time is user + sys of the command and of every child it waited for (os.wait4).

A command can start with the disk caught up and with the folders the request's "settle" names out of the page
cache (`settle`, unmeasured): the benchmark names what earlier commands wrote and the other datasets' trees.
Otherwise a build is charged for the kernel writing out the gigabytes the previous build wrote, and for
reclaiming cached pages once memory runs short: Flickr30K's two-process build took 15.5-18 s of system time
right after the one-process build (4.4 GB written), 4.6 s when that output had been deleted.
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def settle(folders: list[str] | tuple[str, ...]) -> None:
    """Write out what is pending, then drop the cached pages of every file in `folders` (a folder, or a file)."""
    os.sync()
    for folder in folders:
        if os.path.isfile(folder):
            _drop(folder)
        for root, _, files in os.walk(folder):
            for name in files:
                _drop(os.path.join(root, name))


def _drop(path: str) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # gone meanwhile, or unreadable: nothing to drop
        return
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def run(command: list[str], env: dict, cwd: str, settled: list[str] | tuple[str, ...] = ()) -> dict:
    settle(settled)
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
        print(json.dumps(run(request["command"], request["env"], request["cwd"], request.get("settle", []))),
              flush=True)


if __name__ == "__main__":
    main()
