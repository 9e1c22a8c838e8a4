"""What every command-line entry point shares: exit codes, error printing, and keeping tokens out of output.

Exit codes (DESIGN.md): 0 success; 2 bad usage or bad raw input, with a message naming the file, the
line or record, the problem and a hint; 1 unexpected failure.
"""
from __future__ import annotations

import os
import sys
import traceback
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from .errors import RawDataError, UsageError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def secrets() -> list[str]:
    """Token values that must never be printed: the HF_TOKEN variable and the stored login."""
    values = [os.environ.get("HF_TOKEN", "")]
    try:
        from huggingface_hub import get_token

        values.append(get_token() or "")
    except Exception:  # no stored login, or an unreadable one: nothing more to hide
        pass
    return [v for v in values if len(v) >= 8]


def scrub(text: str, extra: tuple[str, ...] = ()) -> str:
    for secret in [*secrets(), *extra]:
        if secret:
            text = text.replace(secret, "***")
    return text


def use_memory_pool(dataset: str, configs: list[str] | None = None) -> None:
    """Have pyarrow use the allocator `ARROW_MEMORY_POOLS` names for a build of the dataset's configs (None: all),
    unless ARROW_DEFAULT_MEMORY_POOL already chose one. Call it before pyarrow is imported: pyarrow reads the
    variable once, at import. The processes this one forks or starts inherit it; the build report says which
    allocator ran."""
    from . import memory_pool

    pool = memory_pool(dataset, configs)
    if pool:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", pool)


def run(main: Callable[[], int | None]) -> None:
    """Run a CLI's main function and exit with the project's exit codes."""
    try:
        code = main() or EXIT_OK
    except RawDataError as error:
        print(scrub(f"error: {error}"), file=sys.stderr)
        code = EXIT_BAD_INPUT
    except UsageError as error:
        print(scrub(f"error: {error}"), file=sys.stderr)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except BrokenProcessPool:
        print("error: a worker process of the build died (killed, or out of memory); nothing was finalized. "
              "Rerun the same command: it resumes from the shard jobs already complete", file=sys.stderr)
        code = EXIT_FAILURE
    except Exception:
        print(scrub(traceback.format_exc()), file=sys.stderr)
        code = EXIT_FAILURE
    sys.stdout.flush()
    sys.exit(code)
