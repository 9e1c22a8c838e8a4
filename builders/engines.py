"""Where shard jobs run: a local process pool (`--engine local`) or Ray tasks (`--engine ray`).

Both engines run the very same job function on the same job descriptions and hand back the same
statistics; the pipeline plans before and finalizes after, whatever ran the jobs. A job reads its raw
shard from `--data-dir` (on a cluster: the same path on every node, e.g. a shared or mounted file
system) and writes its parts and its completion marker to the build's fsspec output.
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from pathlib import Path
from typing import Callable, Iterator

from .errors import RawDataError, UsageError

RAY_TASK_RETRIES = 3
"""A task whose worker process or node dies is run again this many times before the build fails
(a rerun of the build then runs only the jobs without a completion marker)."""

CANCEL_SECONDS = 60
"""How long a failing build waits for its cancelled tasks to stop (a running task is interrupted)."""

JobFunction = Callable  # (job, target) -> statistics dict
Completions = Iterator[tuple[object, "dict | RawDataError"]]  # (job, its statistics or its bad-input error),
                                                              # in completion order


class LocalEngine:
    """Jobs in this process (num_proc 1) or in a pool of forked processes."""

    def __init__(self, num_proc: int = 1):
        self.num_proc = num_proc
        self.in_process = num_proc <= 1  # jobs then see this process's memory (a memory:// output works)
        self.planning_processes = max(1, num_proc)  # the cores the jobs will have, idle while the planner runs

    def start(self, run: JobFunction, jobs: list, target) -> Completions:
        """Submit every job (forking the workers now, before the caller starts any thread); iterate the results."""
        if self.num_proc <= 1 or len(jobs) <= 1:
            return _in_process_completions(run, jobs, target)
        context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
        # what the planner made leaves the collector's reach: a worker's collections would write to every object's
        # header and so copy the pages the fork shares (when MovieQA's planner held a parsed qa.json, millions of
        # objects, this took 5% off a two-process build's CPU)
        gc.freeze()  # until the pool is done (`_pool_completions`)
        try:
            pool = concurrent.futures.ProcessPoolExecutor(min(self.num_proc, len(jobs)), mp_context=context,
                                                          initializer=_die_with_parent, initargs=(os.getpid(),))
            futures = {pool.submit(run, job, target): job for job in jobs}
        except BaseException:
            gc.unfreeze()
            raise
        return _pool_completions(pool, futures)


def _in_process_completions(run: JobFunction, jobs: list, target) -> Completions:
    # every full collection walks every object made so far: the imports' (datasets, pandas, pyarrow) and the
    # planner's, over and over while the jobs make and drop their rows; frozen, only the jobs' own are walked
    # (Flickr30K's 31,783 images: 18 full collections took 1.0 s of CPU, then 0.16 s; MovieQA's 1M questions
    # 1.24 s, then 0.07 s)
    gc.freeze()
    try:
        for job in jobs:
            yield job, _result_or_error(run, job, target)
    finally:
        gc.unfreeze()


def _result_or_error(function, *args):
    """A job's statistics, or the RawDataError that stopped it: bad raw data fails its config, not the
    build, so the pipeline goes on with the other jobs and reports the error at the end."""
    try:
        return function(*args)
    except RawDataError as error:
        return error


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """A worker must not outlive a killed build: it would go on writing into the staging area a rerun uses."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the build died before the request above took effect
        os._exit(1)


def _pool_completions(pool: concurrent.futures.ProcessPoolExecutor, futures: dict) -> Completions:
    with pool:
        try:
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], _result_or_error(future.result)
        except BaseException:  # also when the consumer stops: pending jobs are dropped, running ones finish
            for future in futures:
                future.cancel()
            raise
        finally:
            gc.unfreeze()


class RayEngine:
    """Jobs as Ray tasks on the cluster at `address`, or on a Ray instance started here for the build.

    A Ray instance that is already running in this process (`ray.init` done by the caller) is used as it
    is and left running. On a remote cluster the `builders` package is shipped with the tasks
    (`py_modules`), so every node runs the driver's code; its dependencies must be installed there.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--engine ray needs Ray: pip install -e \".[ray]\"") from None
        self.address, self.num_cpus = address, num_cpus
        self.in_process = False
        self.planning_processes = 1  # the driver's machine may not be where the cores are

    def start(self, run: JobFunction, jobs: list, target) -> Completions:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            package = str(Path(__file__).resolve().parent)
            ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                     runtime_env={"py_modules": [package]} if self.address else None,
                     include_dashboard=False, configure_logging=False, log_to_driver=True)
        task = ray.remote(_in_ray_worker).options(max_retries=RAY_TASK_RETRIES, retry_exceptions=False)
        refs = {task.remote(run, job, target): job for job in jobs}
        return _ray_completions(refs, started_here)


def _in_ray_worker(run: JobFunction, job, target):
    """A job in a Ray worker process, which runs many. At its first job, the modules it imported (Ray's, and the
    build's: datasets, pandas, pyarrow) leave the collector's reach, as they do for local jobs
    (`_in_process_completions`); later jobs find them frozen already, and what each job leaves is collected."""
    if not gc.get_freeze_count():
        gc.freeze()
    return run(job, target)


def _ray_completions(refs: dict, started_here: bool) -> Completions:
    import ray

    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                yield refs[ref], _result_or_error(_ray_result, ref)
    except BaseException:
        # the build stops: its other tasks end before it returns, so that none of them still writes
        # when a rerun starts on the same staging area
        for ref in pending:
            ray.cancel(ref)
        ray.wait(pending, num_returns=len(pending), timeout=CANCEL_SECONDS)
        raise
    finally:
        if started_here:
            ray.shutdown()


def _ray_result(ref) -> dict:
    """The task's statistics; a bad-input error comes back as itself, so the CLI reports it (exit 2)."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, (RawDataError, UsageError)):
            raise error.cause from None
        raise


def make_engine(name: str, num_proc: int = 1, ray_address: str | None = None):
    if name == "local":
        if ray_address:
            raise UsageError("--ray-address needs --engine ray")
        return LocalEngine(num_proc)
    if name == "ray":
        return RayEngine(ray_address, num_proc if num_proc > 1 else None)
    raise UsageError(f"unknown engine {name!r}; use local or ray")
