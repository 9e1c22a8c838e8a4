"""Run a script (path) or a module (-m name) with its arguments, then print this process tree's peak RSS.

usage: python -m builders.bench.rss SCRIPT.py ARGS...   |   python -m builders.bench.rss -m MODULE ARGS...
The last line printed is `peak_rss_bytes=N`: the larger of this process's and its largest child's.
"""
import resource
import runpy
import sys


def main() -> int:
    args = sys.argv[1:]
    module = args[0] == "-m"
    target = args[1] if module else args[0]
    sys.argv = [target, *args[2 if module else 1:]]
    code = 0
    try:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(__import__("pathlib").Path(target).parent))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.stdout.flush()
    print(f"peak_rss_bytes={peak_kib * 1024}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
