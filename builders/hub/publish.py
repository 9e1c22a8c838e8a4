"""Publish a built folder to a Hub repository: one atomic commit, nothing stale left, licence guard first.

The plan compares the folder with the repository's head: files whose content hash the Hub already
has are left alone, data files of our layout that the build no longer produces are deleted, and if
nothing differs there is no commit at all. Every data file is uploaded (LFS) before the single commit
that adds, deletes and writes README.md, checked against the parent commit the plan was made on.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..errors import UsageError
from ..outputs import README_FILE, REPORT_FILE, report_text

DATA_FILE = re.compile(r"[^/]+/[^/]+-\d{5}-of-\d{5}\.parquet")
"""Files of our layout in a repository: a publish deletes those it does not produce."""


@dataclass
class PublishPlan:
    repo_id: str
    exists: bool
    private: bool
    gated: bool
    parent_commit: str | None
    add: list[CommitOperationAdd] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.add or self.delete)

    def describe(self) -> str:
        lines = [f"repository {self.repo_id} ({'exists' if self.exists else 'will be created'}, "
                 f"{'private' if self.private else 'public'}{', gated' if self.gated else ''})"]
        lines += [f"  upload  {op.path_in_repo} ({op.upload_info.size:,} bytes)" for op in self.add]
        lines += [f"  delete  {path}" for path in self.delete]
        lines.append(f"  {len(self.unchanged)} file(s) unchanged")
        return "\n".join(lines)


@dataclass
class PublishResult:
    plan: PublishPlan
    commit_url: str | None = None
    pr_url: str | None = None
    page_url: str = ""


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def read_built_folder(folder: Path) -> dict:
    """The build report of a complete build folder (README.md present), or a UsageError saying why not."""
    report_path, readme = folder / REPORT_FILE, folder / README_FILE
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder; build one with scripts/build.py first")
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    if report.get("failed_configs"):
        raise UsageError(f"{folder}: not a complete build: config(s) {', '.join(report['failed_configs'])} failed "
                         f"(their errors are under failed_configs in {REPORT_FILE}); fix the raw data and rerun "
                         "scripts/build.py, or build only the other configs with --config")
    if not report or not readme.is_file():
        raise UsageError(f"{folder}: not a complete build (README.md or {REPORT_FILE} is missing); "
                         "rerun scripts/build.py")
    return report


def visibility(policy: str, requested_private: bool | None, repo_private: bool | None) -> bool:
    """Whether the repository must be private, enforcing the dataset's redistribution policy."""
    if policy == "private":
        if requested_private is False:
            raise UsageError("refused: this dataset's licence does not allow public redistribution "
                             "(policy 'private'); publish without --public")
        if repo_private is False:
            raise UsageError("refused: the repository exists and is public, but this dataset's licence does not "
                             "allow public redistribution (policy 'private'); publish to a private repository")
        return True
    if requested_private is not None:
        return requested_private
    return bool(repo_private)


@dataclass
class RemoteState:
    exists: bool
    private: bool | None
    head: str | None
    files: dict = field(default_factory=dict)  # path -> RepoSibling (with its content hash)


def remote_state(api: HfApi, repo_id: str) -> RemoteState:
    try:
        info = api.repo_info(repo_id, repo_type="dataset", files_metadata=True)
    except RepositoryNotFoundError:
        return RemoteState(False, None, None)
    return RemoteState(True, bool(info.private), info.sha, {s.rfilename: s for s in info.siblings or []})


def plan(folder: Path, report: dict, repo_id: str, private: bool | None, remote: RemoteState,
         contents: dict[str, bytes]) -> PublishPlan:
    """What to upload and delete. `contents` replaces files of the folder (the card re-rendered for repo_id)."""
    policy = report["redistribution"]
    result = PublishPlan(repo_id, remote.exists, visibility(policy, private, remote.private), policy == "gated",
                         remote.head)
    local = _local_files(folder, report)
    for path_in_repo, path in local.items():
        content = contents.get(path_in_repo)
        operation = CommitOperationAdd(path_in_repo=path_in_repo,
                                       path_or_fileobj=str(path) if content is None else content)
        if _same_content(remote.files.get(path_in_repo), operation,
                         content if content is not None else path.read_bytes):
            result.unchanged.append(path_in_repo)
        else:
            result.add.append(operation)
    result.delete = sorted(p for p in remote.files if DATA_FILE.fullmatch(p) and p not in local)
    return result


def card_for_repository(report: dict, repo_id: str) -> dict[str, bytes]:
    """build_report.json and README.md re-rendered so the card's examples name `repo_id` (empty if they do)."""
    if report["repo_id"] == repo_id:
        return {}
    from .. import cards  # imports `datasets`: paid only when the card must change

    report = dict(report, repo_id=repo_id)
    return {REPORT_FILE: report_text(report).encode(), README_FILE: cards.render_card(report).encode()}


def publish(folder, repo_id: str, private: bool | None = None, create_pr: bool = False, dry_run: bool = False,
            token: str | None = None, log=print) -> PublishResult:
    """Publish a built folder. The licence guard runs before anything changes, here or on the Hub; the
    folder's card is rewritten for `repo_id` only when something is really published (not on a dry run)."""
    folder = Path(folder)
    report = read_built_folder(folder)
    api = HfApi(endpoint=endpoint(), token=token)
    try:
        remote = remote_state(api, repo_id)
        visibility(report["redistribution"], private, remote.private)
        contents = card_for_repository(report, repo_id)
        the_plan = plan(folder, report, repo_id, private, remote, contents)
        log(the_plan.describe())
        if dry_run:
            log("dry run: nothing was uploaded")
            return PublishResult(the_plan, page_url=page_url(repo_id))
        for name, content in contents.items():  # the folder stays exactly what is published
            _write_whole(folder / name, content)
        return _publish(api, the_plan, report, repo_id, create_pr, log)
    except HfHubHTTPError as error:
        if _status(error) in (401, 403):
            raise UsageError(f"{endpoint()} refused the request ({_status(error)}): the token is missing or wrong, "
                             f"or may not write to {repo_id}; set HF_TOKEN or run `hf auth login`") from None
        raise


def page_url(repo_id: str) -> str:
    return f"{endpoint()}/datasets/{repo_id}"


def _publish(api: HfApi, the_plan: PublishPlan, report: dict, repo_id: str, create_pr: bool, log) -> PublishResult:
    page = page_url(repo_id)
    if not the_plan.exists:
        the_plan.parent_commit = create_repo(api, repo_id, the_plan.private)
    elif the_plan.private and not create_pr:
        api.update_repo_settings(repo_id, repo_type="dataset", private=True)
    if the_plan.gated and not the_plan.private and not create_pr:
        api.update_repo_settings(repo_id, repo_type="dataset", gated="auto")
    if not the_plan.changes:
        log("the repository already has this build: no commit")
        return PublishResult(the_plan, page_url=page)
    operations = the_plan.add + [CommitOperationDelete(path_in_repo=p) for p in the_plan.delete]
    try:
        commit = api.create_commit(
            repo_id, repo_type="dataset", operations=operations, parent_commit=the_plan.parent_commit,
            create_pr=create_pr, commit_message=f"Publish {report['dataset']} ({len(the_plan.add)} added, "
                                                f"{len(the_plan.delete)} deleted)")
    except HfHubHTTPError as error:
        if _status(error) in (409, 412):
            raise changed_meanwhile(repo_id, f"its head is no longer {the_plan.parent_commit}") from None
        raise
    result = PublishResult(the_plan, commit.commit_url, commit.pr_url, page)
    log(f"committed {commit.commit_url}" + (f"\npull request: {commit.pr_url}" if commit.pr_url else ""))
    return result


def create_repo(api: HfApi, repo_id: str, private: bool) -> str:
    """Create the repository and return its first commit, the parent the publish commit is checked against
    (without one, a commit landing between the creation and ours would go unnoticed)."""
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private)
    except HfHubHTTPError as error:
        if _status(error) == 409:
            raise changed_meanwhile(repo_id, "someone else created it") from None
        raise
    info = api.repo_info(repo_id, repo_type="dataset")
    if {s.rfilename for s in info.siblings or []} - {".gitattributes"}:
        raise changed_meanwhile(repo_id, "someone else committed to it right after it was created")
    return info.sha


def changed_meanwhile(repo_id: str, what: str) -> UsageError:
    return UsageError(f"{repo_id} changed while publishing ({what}); nothing was committed. Review the "
                      "repository, then rerun: files already uploaded are not sent again")


def _status(error: HfHubHTTPError) -> int | None:
    return error.response.status_code if error.response is not None else None


def _local_files(folder: Path, report: dict) -> dict[str, Path]:
    files = {README_FILE: folder / README_FILE, REPORT_FILE: folder / REPORT_FILE}
    for config in report["configs"].values():
        for split in config["splits"].values():
            for name in split["files"]:
                files[name] = folder / name
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise UsageError(f"{folder}: files listed in {REPORT_FILE} are missing: {', '.join(missing)}; "
                         "rebuild the folder")
    return files


def _same_content(sibling, operation: CommitOperationAdd, content) -> bool:
    """Whether the Hub already has this file: LFS files by sha256, regular ones by git blob id.
    `content` is the bytes, or a function reading them (files are read only when needed)."""
    if sibling is None:
        return False
    if sibling.lfs is not None:
        return sibling.lfs.sha256 == operation.upload_info.sha256.hex()
    return sibling.blob_id == _git_blob_sha1(content() if callable(content) else content)


def _write_whole(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
