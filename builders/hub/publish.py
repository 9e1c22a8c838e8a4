"""Publish a built folder to a Hub repository: within the Hub's limits, atomic for readers, resumable.

The plan compares the folder with the repository's `main`: files whose content hash the Hub already has are
left alone, data files of our layout that the build no longer produces are deleted, and if nothing differs
there is no commit at all.

- A small publish (at most `files_per_commit` changes, under the Hub's regular-payload limit per commit) is
  one commit on `main`, checked against the parent commit the plan was made on.
- A larger one goes to a pull request (`refs/pr/N`) in batches, each batch uploaded and then committed, and
  the pull request is merged in one step: `main` goes from the old complete build to the new complete build,
  so a reader never sees half of one. The pull request's description names the dataset and the `main`
  commit it started from; a rerun after a kill finds it, compares its files with the folder, uploads only
  what the Hub lacks, commits the rest and merges. If `main` moved meanwhile, the pull request is closed and
  a new one started (files already uploaded are not sent again).
- 429 answers (the Hub's commit rate limit) are waited out as their Retry-After asks, up to a patience.

Before anything is uploaded: the licence guard, the Hub's hard limits (entries per folder, file size) and its
recommended number of files per repository, the release tag, and the card: a README.md edited on the Hub
since the last publish is never overwritten silently (build_report.json on the Hub records the git blob id
of the README.md publish.py wrote, and whether its body was the generated one or the Hub's).

Every upload goes through huggingface_hub's public API (`create_commit`), so on the real Hub it uses Xet
when hf_xet is installed. A server that answers the Xet token route with 404 (the local Hub: it stores
LFS only) is published to over LFS instead.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..errors import UsageError
from ..outputs import CROISSANT_FILE, README_FILE, REPORT_FILE, git_blob_oid, report_text, write_atomic
from . import subsets

DATA_FILE = re.compile(r"[^/]+/(?:[^/]+/\d{4,}/)?[^/]+-\d{5,}-of-\d{5,}\.parquet")
"""Files of our layout in a repository (`<config>/<split>-NNNNN-of-NNNNN.parquet`, or in the sub-folders
`<config>/<split>/NNNN/` of a config with more parts than a folder may hold): a publish deletes those it does
not produce."""

# The Hub's limits (hub-docs "Repository limitations and recommendations" and "Storage limits", the
# huggingface_hub 2.4 upload guide, the errors quoted in huggingface_hub#3183 and braindecode#947).
MAX_FOLDER_ENTRIES = 10_000              # hard: files and sub-folders directly in one folder
RECOMMENDED_MAX_FILES = 100_000          # per repository
MAX_LFS_FILES_PER_COMMIT = 25_000        # hard
MAX_REGULAR_BYTES_PER_COMMIT = 1_000_000_000  # hard: the payload of non-LFS files in one commit
MAX_FILE_BYTES = 500 * 1000**3           # hard
RECOMMENDED_MAX_FILE_BYTES = 200 * 1000**3
FILES_PER_COMMIT = 500
"""Changes per commit of a large publish: far inside the 25,000 LFS files a commit may add and the ~60 s a
commit request may take, and few enough commits for the ~128 per hour a repository may receive (500 files a
commit is 64,000 files an hour, more than any link uploads parts of a few hundred MB)."""
RATE_LIMIT_PATIENCE = 2 * 3600.0
"""Seconds of 429 waits a publish accepts in all before it stops (a rerun resumes)."""
DEFAULT_RETRY_AFTER = 60

GATING_MODES = ("auto", "manual")
CARD_EDITS = ("keep", "overwrite")
PR_MARKER = re.compile(r"<!-- publish\.py (\{.*?\}) -->")
TAG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,98}[A-Za-z0-9])?")
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class PublishPlan:
    repo_id: str
    exists: bool
    private: bool
    gating: str | None  # "auto" | "manual" when the repository must be gated
    parent_commit: str | None
    add: list[CommitOperationAdd] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files_after: int = 0
    batches: int = 1     # commits of the changes; a publish in several batches adds one merge
    configs: list[str] = field(default_factory=list)     # the configs this publish uploads
    kept: list[str] = field(default_factory=list)        # configs on the Hub kept and described by the card
    left_alone: list[str] = field(default_factory=list)  # config folders on the Hub kept (--keep-other-configs)
    dropped: list[str] = field(default_factory=list)     # config folders on the Hub this publish deletes

    @property
    def gated(self) -> bool:
        return self.gating is not None

    @property
    def changes(self) -> bool:
        return bool(self.add or self.delete)

    def describe(self) -> str:
        gating = f", gated ({self.gating})" if self.gating else ""
        lines = [f"repository {self.repo_id} ({'exists' if self.exists else 'will be created'}, "
                 f"{'private' if self.private else 'public'}{gating})",
                 f"  configs: {', '.join(self.configs)}"]
        if self.left_alone:
            described = [c for c in self.left_alone if c in self.kept]
            lines.append(f"  left alone on the Hub (--keep-other-configs): {', '.join(self.left_alone)}"
                         + (f"; the card describes {', '.join(described)} too" if described else ""))
        if self.dropped:
            lines.append(f"  on the Hub but not in this publish, so deleted: {', '.join(self.dropped)} "
                         "(--keep-other-configs keeps them)")
        lines += _listed([f"  upload  {op.path_in_repo} ({op.upload_info.size:,} bytes)" for op in self.add], "uploads")
        lines += _listed([f"  delete  {path}" for path in self.delete], "deletions")
        lines.append(f"  {len(self.unchanged)} file(s) unchanged; {self.files_after:,} file(s) in the repository after")
        if self.changes and self.batches > 1:
            lines.append(f"  {len(self.add) + len(self.delete):,} changes in {self.batches} commits on a pull request, "
                         "then merged into main in one step")
        return "\n".join(lines)


def _listed(lines: list[str], what: str, shown: int = 50) -> list[str]:
    return lines if len(lines) <= shown else lines[:shown] + [f"  ... and {len(lines) - shown:,} more {what}"]


@dataclass
class PublishResult:
    plan: PublishPlan
    commit_url: str | None = None
    pr_url: str | None = None
    page_url: str = ""
    commits: int = 0      # commits this run made (batches and merge included)
    tag: str | None = None


@dataclass
class OpenPullRequest:
    """A pull request a publish of this dataset opened and has not merged yet."""

    num: int
    base: str     # the main commit it started from
    status: str   # "draft" until publish.py opens it for merging
    url: str

    @property
    def ref(self) -> str:
        return f"refs/pr/{self.num}"


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def read_built_folder(folder: Path, selecting: bool = False) -> dict:
    """The build report of a complete build folder (README.md present), or a UsageError saying why not.
    `selecting`: configs will be chosen from it (publish.py --config), so a build whose other configs failed
    will do: the chosen configs are checked to be among those that built, and the card is rendered anew."""
    report_path, readme = folder / REPORT_FILE, folder / README_FILE
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder; build one with scripts/build.py first")
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    if report.get("failed_configs") and not selecting:
        raise UsageError(f"{folder}: not a complete build: config(s) {', '.join(report['failed_configs'])} failed "
                         f"(their errors are under failed_configs in {REPORT_FILE}); fix the raw data and rerun "
                         "scripts/build.py, or publish the configs that built with --config")
    if not report or not (readme.is_file() or selecting and report.get("configs")):
        raise UsageError(f"{folder}: not a complete build (README.md or {REPORT_FILE} is missing); "
                         "rerun scripts/build.py")
    return report


@dataclass
class Selection:
    """What one publish sends: the report its card and croissant.json describe, and the files it uploads."""

    report: dict              # the configs published, plus those kept on the Hub (--keep-other-configs)
    files: dict[str, Path]    # the card, the report, croissant.json and the published configs' data files
    configs: tuple[str, ...]  # the configs this publish uploads
    keep_others: bool = False
    whole_folder: bool = True  # exactly the folder's build: the folder is rewritten to match what was published

    @property
    def kept(self) -> list[str]:
        return self.report.get("kept_configs", [])


def select(folder: Path, report: dict, patterns=()) -> Selection:
    """The configs of the folder that the names or globs choose (all of them without patterns)."""
    if not patterns:
        return Selection(report, _local_files(folder, report), tuple(report["configs"]))
    names = subsets.matching_configs(report, patterns)
    if names == list(report["configs"]) and not report.get("failed_configs"):
        return Selection(report, _local_files(folder, report), tuple(names))
    subset = subsets.report_for_configs(report, names)
    return Selection(subset, _local_files(folder, subset), tuple(names), whole_folder=False)


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


def gating_mode(dataset: str) -> str:
    """How access to a gated dataset is granted: `auto` (on accepting the terms) or `manual` (the owners review
    each request, for EULA-style terms), from `gating:` in dataset_cards/<dataset>.yaml (default auto)."""
    mode = subsets.card_yaml(dataset).get("gating", "auto")
    if mode not in GATING_MODES:
        raise UsageError(f"dataset_cards/{dataset}.yaml: gating must be 'auto' or 'manual', not {mode!r}")
    return mode


@dataclass
class RemoteState:
    exists: bool
    private: bool | None
    head: str | None
    files: dict = field(default_factory=dict)  # path -> RepoFile (with its content hash)
    gated: str | bool = False
    _report: dict | None = field(default=None, repr=False)

    def report(self, api: HfApi, repo_id: str) -> dict | None:
        """The repository's build_report.json at `head` (None without one), downloaded once: the card's
        state, the configs kept and the private history all read it."""
        if self._report is None and REPORT_FILE in self.files:
            self._report = json.loads(_download(api, repo_id, REPORT_FILE, self.head))
        return self._report


def remote_state(api: HfApi, repo_id: str, revision: str | None = None) -> RemoteState:
    """The repository at `revision` (main by default): its settings, head commit and files with their hashes,
    listed with the paginated tree (a repository of 100,000 files is 100 pages)."""
    try:
        info = api.repo_info(repo_id, repo_type="dataset", revision=revision)
    except RepositoryNotFoundError:
        return RemoteState(False, None, None)
    tree = api.list_repo_tree(repo_id, repo_type="dataset", revision=info.sha, recursive=True)
    files = {entry.path: entry for entry in tree if hasattr(entry, "blob_id")}
    return RemoteState(True, bool(info.private), info.sha, files, info.gated or False)


def plan(selection: Selection, repo_id: str, private: bool | None, remote: RemoteState, contents: dict[str, bytes],
         gating: str | None = None) -> PublishPlan:
    """What to upload and delete. `contents` replaces files of the folder (the card re-rendered for repo_id).
    Data files of our layout on the Hub that the publish does not produce are deleted, except, with
    --keep-other-configs, those of configs outside the selection."""
    result = PublishPlan(repo_id, remote.exists,
                         visibility(selection.report["redistribution"], private, remote.private), gating, remote.head,
                         configs=list(selection.configs), kept=list(selection.kept))
    local = selection.files
    recorded, report_written = recorded_parts(selection.report), local[REPORT_FILE].stat().st_mtime_ns
    for path_in_repo, path in local.items():
        content = contents.get(path_in_repo)
        operation = CommitOperationAdd(path_in_repo=path_in_repo,
                                       path_or_fileobj=str(path) if content is None else content)
        if content is None and path_in_repo in recorded:
            take_recorded_sha256(operation, path, recorded[path_in_repo], report_written)
        if _same_content(remote.files.get(path_in_repo), operation,
                         content if content is not None else path.read_bytes):
            result.unchanged.append(path_in_repo)
        else:
            result.add.append(operation)
    stale = sorted(p for p in remote.files if DATA_FILE.fullmatch(p) and p not in local)
    outside = {p for p in stale if p.split("/", 1)[0] not in selection.configs}  # files of other configs
    result.delete = [p for p in stale if not (selection.keep_others and p in outside)]
    outside_configs = sorted({p.split("/", 1)[0] for p in outside})
    if selection.keep_others:
        result.left_alone = outside_configs
    else:
        result.dropped = outside_configs
    result.files_after = len((set(remote.files) - set(result.delete)) | set(local))
    return result


def publish(folder, repo_id: str, private: bool | None = None, create_pr: bool = False, dry_run: bool = False,
            token: str | None = None, log=print, *, tag: str | None = None, card_edits: str | None = None,
            files_per_commit: int = FILES_PER_COMMIT, allow_many_files: bool = False,
            rate_limit_patience: float = RATE_LIMIT_PATIENCE, see_also: tuple = (), configs=(),
            keep_other_configs: bool = False, publish_command: str | None = None) -> PublishResult:
    """Publish a built folder, or the configs of it that `configs` (names or globs) choose. Every check
    (licence, the Hub's limits, the tag, a card edited on the Hub) runs before anything changes, here or on the
    Hub; the folder's card and report are rewritten for what is published only when something is really
    published (not on a dry run) and the publish is of the whole folder.

    `keep_other_configs`: data files of configs outside the selection that the repository holds stay, and the
    card describes them too (from the repository's build_report.json); otherwise they are deleted, so the
    repository holds exactly what this publish sends. `see_also`: the dataset's other repositories, as names
    or as {repo_id, configs, redistribution}; `publish_command`: the command the card shows for a rebuild."""
    folder = Path(folder)
    report = read_built_folder(folder, selecting=bool(configs))
    _check_options(tag, create_pr, card_edits, files_per_commit)
    selection = select(folder, report, configs)
    _check_file_sizes(selection.files, log)
    if publish_command is None and (not selection.whole_folder or keep_other_configs):
        publish_command = _publish_command(repo_id, configs, keep_other_configs=keep_other_configs)
    api = HfApi(endpoint=endpoint(), token=token)
    with hub_errors(repo_id):
        if token is not False and (token or get_token()):
            api.whoami()  # a refused token stops the publish here, before any planning
        remote = remote_state(api, repo_id)
        if keep_other_configs:
            selection = _keeping_other_configs(api, selection, repo_id, remote, log)
        policy = selection.report["redistribution"]
        private_flag = visibility(policy, private, remote.private)
        private_history = _private_history(api, repo_id, remote)
        _check_opening(repo_id, remote, private_flag, private, policy, private_history, log)
        gating = gating_mode(report["dataset"]) if policy == "gated" else None
        contents = published_card(api, folder, selection, repo_id, tag, remote, card_edits, log, see_also,
                                  publish_command, private_history)
        the_plan = plan(selection, repo_id, private, remote, contents, None if private_flag else gating)
        _check_repository_limits(the_plan, remote, selection.files, allow_many_files)
        tag_present = _check_tag(api, repo_id, tag, remote, the_plan)
        open_pr = find_publish_pull_request(api, repo_id, report["dataset"]) if remote.exists else None
        batches = make_batches(the_plan.add, the_plan.delete, files_per_commit)
        large = len(batches) > 1 or open_pr is not None
        the_plan.batches = len(batches)
        log(the_plan.describe())
        if dry_run:
            log("dry run: nothing was uploaded")
            return PublishResult(the_plan, page_url=page_url(repo_id))
        if selection.whole_folder:  # the folder stays exactly what is published
            for name, content in contents.items():
                write_atomic(folder / name, content)
        patience = Patience(rate_limit_patience, repo_id, log)
        _prepare_repository(api, the_plan, remote, create_pr)
        if large:
            result = _publish_in_batches(api, the_plan, selection, report["dataset"], contents, create_pr, open_pr,
                                         files_per_commit, patience, log)
        else:
            result = _publish_in_one_commit(api, the_plan, report, create_pr, patience, log)
        if tag and not tag_present:
            head = api.repo_info(repo_id, repo_type="dataset").sha
            api.create_tag(repo_id, tag=tag, revision=head, tag_message=f"{report['dataset']} {tag}",
                           repo_type="dataset")
            log(f"tagged {head[:10]} as {tag}")
        result.tag = tag
        return result


def publish_per_policy(folder, repo_id: str, private: bool | None = None, *, configs=(), log=print,
                       see_also: tuple = (), dry_run: bool = False, **options) -> list[PublishResult]:
    """Publish a built folder as one repository per redistribution policy present (publish.py
    --split-by-policy): InternVid's gated captions to ORG/internvid, its private clips to ORG/internvid-clips.
    Each repository gets its configs only, is private, gated or public as its policy says, and its card links
    the others. The strictest repository is published first, so the most visible card links only
    repositories that exist. `private=True` makes every repository private; `private=False` (--public) opens
    those whose policy allows it."""
    folder = Path(folder)
    report = read_built_folder(folder, selecting=bool(configs))
    selection = select(folder, report, configs)
    groups = subsets.policy_groups(selection.report)
    repos = subsets.repository_per_policy(repo_id, report["dataset"], groups)
    log(f"{len(groups)} repositor{'y' if len(groups) == 1 else 'ies'}, one per redistribution policy of the configs:")
    for policy, names in groups.items():
        log(f"  {repos[policy]} ({policy}): {', '.join(names)}")
    command = _publish_command(repo_id, configs, split_by_policy=True)
    results = []
    for policy, names in groups.items():
        others = tuple({"repo_id": repos[p], "configs": n, "redistribution": p} for p, n in groups.items()
                       if p != policy)
        log(f"\n{repos[policy]}:")
        results.append(publish(folder, repos[policy], None if private is False and policy == "private" else private,
                               configs=names, log=log, see_also=others + tuple(see_also), dry_run=dry_run,
                               publish_command=command, **options))
    return results


def _publish_command(repo_id: str, configs, split_by_policy: bool = False, keep_other_configs: bool = False) -> str:
    """The publish.py command a card shows for publishing this repository again from a rebuilt folder."""
    return (f"python scripts/publish.py OUT --repo {repo_id}" + (" --split-by-policy" if split_by_policy else "")
            + "".join(f" --config {shlex.quote(pattern)}" for pattern in configs)
            + (" --keep-other-configs" if keep_other_configs else ""))


def _keeping_other_configs(api: HfApi, selection: Selection, repo_id: str, remote: RemoteState, log) -> Selection:
    """The selection with the configs the repository holds beside it, for the card (--keep-other-configs)."""
    repository_report = remote.report(api, repo_id)
    if repository_report is None:
        return dataclasses.replace(selection, keep_others=True)
    merged = subsets.with_kept_configs(selection.report, repository_report, remote.files, repo_id, log)
    return dataclasses.replace(selection, report=merged, keep_others=True,
                               whole_folder=selection.whole_folder and merged is selection.report)


def _private_history(api: HfApi, repo_id: str, remote: RemoteState) -> bool:
    """Whether a private repository has held configs under the private policy: its last publish held some, or
    said its history did (`private_history` in build_report.json, carried from publish to publish)."""
    last = remote.report(api, repo_id) if remote.exists and remote.private else None
    if last is None:
        return False
    return bool(last.get("private_history")) or last.get("redistribution") == "private" or any(
        config.get("redistribution") == "private" for config in last.get("configs", {}).values())


def _check_opening(repo_id: str, remote: RemoteState, private_flag: bool, requested: bool | None, policy: str,
                   private_history: bool, log) -> None:
    """A private repository is made public only when asked (--public), and never when its history holds files
    published under the private policy: older commits stay downloadable by anyone once it is public."""
    if not (remote.exists and remote.private):
        return
    if private_flag:
        if policy != "private" and requested is None:
            log(f"note: {repo_id} is private and stays so; its configs' policy ({policy}) allows "
                f"{'a gated' if policy == 'gated' else 'a public'} repository"
                + (": --public opens it" if not private_history else
                   ", but its history holds configs under the private policy: publish them to a new repository"))
        return
    if private_history:
        raise UsageError(f"refused: {repo_id} is private and its history holds configs under the 'private' "
                         "policy; making it public would let anyone download them from older commits. Publish to "
                         "a new repository (for --split-by-policy, the one the policy names), or delete this one "
                         "first")


def page_url(repo_id: str) -> str:
    return f"{endpoint()}/datasets/{repo_id}"


def _check_options(tag, create_pr, card_edits, files_per_commit) -> None:
    if tag is not None and (not TAG_NAME.fullmatch(tag) or ".." in tag or re.fullmatch(r"[0-9a-f]{40}", tag)):
        raise UsageError(f"--tag {tag!r} is not a valid tag name; use a version such as v1.0.0")
    if tag is not None and create_pr:
        raise UsageError("--tag names a published version, and --create-pr publishes nothing to main: "
                         "merge the pull request, then publish again with --tag")
    if card_edits is not None and card_edits not in CARD_EDITS:
        raise UsageError(f"--card-edits must be one of {', '.join(CARD_EDITS)}")
    if not 1 <= files_per_commit <= MAX_LFS_FILES_PER_COMMIT:
        raise UsageError(f"--files-per-commit must be between 1 and {MAX_LFS_FILES_PER_COMMIT:,} (the most LFS "
                         "files the Hub takes in one commit)")


def _check_file_sizes(local: dict[str, Path], log) -> None:
    for path_in_repo, path in local.items():
        if not path.is_file():  # croissant.json of an older folder, made small by publish.py
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: {size:,} bytes, over the Hub's limit of {MAX_FILE_BYTES:,} bytes per file; "
                             "rebuild with smaller parts")
        if size > RECOMMENDED_MAX_FILE_BYTES:
            log(f"warning: {path_in_repo} has {size:,} bytes, over the Hub's recommended "
                f"{RECOMMENDED_MAX_FILE_BYTES:,} bytes per file")


def folder_entries(paths) -> dict[str, int]:
    """Direct entries (files and sub-folders) of every folder of a set of file paths ("" is the root)."""
    children: dict[str, set] = {}
    for path in paths:
        parts = path.split("/")
        for i in range(len(parts)):
            children.setdefault("/".join(parts[:i]), set()).add(parts[i])
    return {folder: len(names) for folder, names in children.items()}


def _check_repository_limits(the_plan: PublishPlan, remote: RemoteState, local: dict, allow_many_files: bool) -> None:
    after = (set(remote.files) - set(the_plan.delete)) | set(local)
    crowded = sorted((n, folder) for folder, n in folder_entries(after).items() if n > MAX_FOLDER_ENTRIES)
    if crowded:
        n, folder = crowded[-1]
        raise UsageError(f"{folder or 'the repository root'} would hold {n:,} entries on {the_plan.repo_id}, over the "
                         f"Hub's limit of {MAX_FOLDER_ENTRIES:,} per folder; rebuild the folder with the current "
                         "scripts/build.py, which spreads a config of more parts over sub-folders")
    if len(after) > RECOMMENDED_MAX_FILES and not allow_many_files:
        raise UsageError(
            f"{the_plan.repo_id} would hold {len(after):,} files, over the Hub's recommended {RECOMMENDED_MAX_FILES:,} "
            "per repository; nothing was uploaded. Publish config groups to separate repositories (build each "
            "group into its own folder with `build.py NAME --config C ... --output OUT_GROUP` and publish each "
            "folder to its own repository, as MINT-1T's upstream does per CC dump; see docs/SCALING.md), or "
            "rebuild with larger parts; --allow-many-files publishes to one repository anyway")


def _check_tag(api: HfApi, repo_id: str, tag: str | None, remote: RemoteState, the_plan: PublishPlan) -> bool:
    """Whether the tag already names this publication (a rerun); refuses a tag that names another commit."""
    if tag is None or not remote.exists:
        return False
    tags = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo_id, repo_type="dataset").tags}
    if tag not in tags:
        return False
    if not the_plan.changes and tags[tag] == remote.head:
        return True
    raise UsageError(f"tag {tag} already exists on {repo_id} (commit {tags[tag][:10]}); a release tag names one "
                     "version for good: publish this build under a new tag")


# ---- the card -------------------------------------------------------------------------------------------------

def published_card(api: HfApi, folder: Path, selection: Selection, repo_id: str, tag: str | None,
                   remote: RemoteState, card_edits: str | None, log, see_also: tuple = (),
                   publish_command: str | None = None, private_history: bool = False) -> dict[str, bytes]:
    """README.md, build_report.json and croissant.json as they must be published, where they differ from the
    folder's: they describe the selection's configs, the card names `repo_id`, the release tag and the other
    repositories of the dataset (`see_also`), and a card body edited on the Hub is kept or overwritten only as
    the maintainer said (`card_edits`), never silently; croissant.json names `repo_id` (it is made for a folder
    built before it existed). `private_history`: the repository has held private configs; a report of
    configs that are not private says so, so that the repository is never opened."""
    report = selection.report
    new = dict(report, repo_id=repo_id)
    for key, value in (("release_tag", tag), ("see_also", list(see_also)), ("publish_command", publish_command),
                       ("private_history", private_history and report["redistribution"] != "private")):
        if value:
            new[key] = value
        else:
            new.pop(key, None)
    folder_readme = (folder / README_FILE).read_bytes() if (folder / README_FILE).is_file() else b""
    folder_body = report.get("published_card", {}).get("body", "generated")
    reusable = (selection.whole_folder and repo_id == report.get("repo_id")
                and all(new.get(key) == report.get(key)
                        for key in ("release_tag", "see_also", "publish_command", "private_history"))
                and folder_body == "generated")

    def generated() -> bytes:
        if reusable:
            return folder_readme
        from .. import cards  # imports `datasets`: paid only when the card must change

        return cards.render_card(new).encode()

    remote_readme = remote.files.get(README_FILE)
    if remote_readme is None:
        state = "absent"
    elif remote_readme.blob_id == git_blob_oid(folder_readme):
        state = folder_body  # the Hub has this folder's card
    else:
        state = remote_card_state(api, repo_id, remote)
    if state == "edited" and card_edits is None:
        raise UsageError(f"the card (README.md) of {repo_id} was changed on the Hub since publish.py last wrote it, "
                         "and publishing would overwrite that edit; nothing was uploaded. Rerun with --card-edits "
                         "keep to publish the Hub's card body under the regenerated metadata (later publishes keep "
                         "it too), or --card-edits overwrite to replace it with the generated card")
    keep = state == "edited" and card_edits == "keep" or state == "hub" and card_edits != "overwrite"
    if keep:
        log(f"keeping the card body edited on the Hub ({'--card-edits keep' if state == 'edited' else 'as the last publish did'}"
            "; --card-edits overwrite replaces it with the generated card)")
        hub_text = folder_readme if remote_readme.blob_id == git_blob_oid(folder_readme) else \
            _download(api, repo_id, README_FILE, remote.head)
        readme = _with_body(generated(), _card_body(hub_text.decode("utf-8", "replace")))
    else:
        readme = generated()
    new["published_card"] = {"oid": git_blob_oid(readme), "body": "hub" if keep else "generated"}
    contents = {}
    if readme != folder_readme:
        contents[README_FILE] = readme
    report_bytes = report_text(new).encode()
    if report_bytes != (folder / REPORT_FILE).read_bytes():
        contents[REPORT_FILE] = report_bytes
    folder_croissant = folder / CROISSANT_FILE
    if repo_id != report.get("repo_id") or not folder_croissant.is_file() or not selection.whole_folder:
        from .. import croissant  # imports `datasets`: paid only when the metadata must change

        metadata = croissant.croissant_text(new).encode()
        if not folder_croissant.is_file() or metadata != folder_croissant.read_bytes():
            contents[CROISSANT_FILE] = metadata
    return contents


def remote_card_state(api: HfApi, repo_id: str, remote: RemoteState) -> str:
    """What the README.md on the Hub is: "generated" (as publish.py last wrote it), "hub" (as publish.py last
    wrote it, with a body kept from the Hub) or "edited" (changed since, or never written by publish.py)."""
    readme_oid = remote.files[README_FILE].blob_id
    remote_report = remote.report(api, repo_id)
    if remote_report is None:
        return "edited"
    last = remote_report.get("published_card")
    if last:
        return ("hub" if last.get("body") == "hub" else "generated") if last.get("oid") == readme_oid else "edited"
    # published before cards were fingerprinted: the card is ours if the report renders to it
    from .. import cards

    try:
        rendered = cards.render_card(remote_report).encode()
    except Exception:  # a report this version cannot render: the card cannot be shown to be ours
        return "edited"
    return "generated" if git_blob_oid(rendered) == readme_oid else "edited"


def _download(api: HfApi, repo_id: str, filename: str, revision: str) -> bytes:
    return Path(api.hf_hub_download(repo_id, filename, repo_type="dataset", revision=revision)).read_bytes()


def _card_body(text: str) -> str:
    match = FRONT_MATTER.match(text)
    return text[match.end():] if match else text


def _with_body(readme: bytes, body: str) -> bytes:
    text = readme.decode()
    match = FRONT_MATTER.match(text)
    return (text[:match.end()] + "\n" + body.lstrip("\r\n")).encode()


# ---- committing -----------------------------------------------------------------------------------------------

def _prepare_repository(api: HfApi, the_plan: PublishPlan, remote: RemoteState, create_pr: bool) -> None:
    """Create the repository, or make it private; gate it before any data lands in it."""
    if not the_plan.exists:
        the_plan.parent_commit = create_repo(api, the_plan.repo_id, the_plan.private)
        remote.gated = False
    elif the_plan.private != remote.private and not create_pr:  # opening one: _check_opening allowed it
        api.update_repo_settings(the_plan.repo_id, repo_type="dataset", private=the_plan.private)
    if the_plan.gating and not create_pr and remote.gated != the_plan.gating:
        api.update_repo_settings(the_plan.repo_id, repo_type="dataset", gated=the_plan.gating)


def _publish_in_one_commit(api: HfApi, the_plan: PublishPlan, report: dict, create_pr: bool, patience: "Patience",
                           log) -> PublishResult:
    page = page_url(the_plan.repo_id)
    if not the_plan.changes:
        log("the repository already has this build: no commit")
        return PublishResult(the_plan, page_url=page)
    operations = the_plan.add + [CommitOperationDelete(path_in_repo=p) for p in the_plan.delete]
    try:
        commit = patience.call("commits", lambda: api.create_commit(
            the_plan.repo_id, repo_type="dataset", operations=operations, parent_commit=the_plan.parent_commit,
            create_pr=create_pr, commit_message=f"Publish {report['dataset']} ({len(the_plan.add)} added, "
                                                f"{len(the_plan.delete)} deleted)"))
    except HfHubHTTPError as error:
        if _status(error) in (409, 412):
            raise changed_meanwhile(the_plan.repo_id, f"its head is no longer {the_plan.parent_commit}") from None
        raise
    log(f"committed {commit.commit_url}" + (f"\npull request: {commit.pr_url}" if commit.pr_url else ""))
    return PublishResult(the_plan, commit.commit_url, commit.pr_url, page, commits=1)


def make_batches(add: list[CommitOperationAdd], delete: list[str], files_per_commit: int) -> list[list]:
    """The commits of a publish: data files first, README.md, build_report.json, croissant.json and the deletions
    last (so the card and the metadata arrive with the end), at most `files_per_commit` changes and the Hub's
    regular payload per commit."""
    last = {README_FILE, REPORT_FILE, CROISSANT_FILE}
    operations = sorted((op for op in add if op.path_in_repo not in last), key=lambda op: op.path_in_repo)
    operations += sorted((op for op in add if op.path_in_repo in last), key=lambda op: op.path_in_repo)
    operations += [CommitOperationDelete(path_in_repo=path) for path in delete]
    batches, current, regular = [], [], 0
    for op in operations:
        size = op.upload_info.size if isinstance(op, CommitOperationAdd) and \
            not op.path_in_repo.endswith(".parquet") else 0  # Parquet always goes to LFS
        if current and (len(current) >= files_per_commit or regular + size > MAX_REGULAR_BYTES_PER_COMMIT):
            batches.append(current)
            current, regular = [], 0
        current.append(op)
        regular += size
    return batches + ([current] if current else [])


def _publish_in_batches(api: HfApi, the_plan: PublishPlan, selection: Selection, dataset: str, contents: dict,
                        create_pr: bool, open_pr: OpenPullRequest | None, files_per_commit: int,
                        patience: "Patience", log) -> PublishResult:
    repo_id, base = the_plan.repo_id, the_plan.parent_commit
    page = page_url(repo_id)
    if open_pr is not None and open_pr.base != base:
        log(f"pull request #{open_pr.num} started from main at {open_pr.base[:10]}, but main is now at {base[:10]}: "
            "closing it and starting a new one (files already uploaded are not sent again)")
        api.change_discussion_status(repo_id, open_pr.num, "closed", repo_type="dataset",
                                     comment="Superseded: main changed after this pull request was opened.")
        open_pr = None
    if open_pr is None:
        if not the_plan.changes:
            log("the repository already has this build: no commit")
            return PublishResult(the_plan, page_url=page)
        details = api.create_pull_request(repo_id, title=f"Publish {dataset}", repo_type="dataset",
                                          description=_pull_request_description(dataset, base))
        open_pr = OpenPullRequest(details.num, base, details.status, details.url)
        todo, head = the_plan, base
        log(f"opened pull request #{open_pr.num} ({open_pr.url}) for {len(the_plan.add) + len(the_plan.delete):,} "
            "changes")
    else:
        on_pr = remote_state(api, repo_id, revision=open_pr.ref)
        todo, head = plan(selection, repo_id, the_plan.private, on_pr, contents), on_pr.head
        log(f"resuming pull request #{open_pr.num} ({open_pr.url}): {len(todo.add) + len(todo.delete):,} changes "
            "still to commit")
    batches = make_batches(todo.add, todo.delete, files_per_commit)
    total, done, commits = sum(map(len, batches)), 0, 0
    for number, batch in enumerate(batches, 1):
        try:
            commit = patience.call("commits", lambda: api.create_commit(
                repo_id, repo_type="dataset", operations=batch, revision=open_pr.ref, parent_commit=head,
                commit_message=f"Publish {dataset}: batch {number} of {len(batches)}"))
        except HfHubHTTPError as error:
            if _status(error) in (409, 412):
                raise changed_meanwhile(repo_id, f"pull request #{open_pr.num} received another commit") from None
            raise
        head, done, commits = commit.oid, done + len(batch), commits + 1
        log(f"batch {number}/{len(batches)} committed to {open_pr.ref}: {done:,}/{total:,} changes")
    left = plan(selection, repo_id, the_plan.private, remote_state(api, repo_id, revision=open_pr.ref), contents)
    if left.changes:
        raise UsageError(f"pull request #{open_pr.num} on {repo_id} does not hold the build after its batches "
                         f"({len(left.add)} files differ, {len(left.delete)} stale); rerun to finish it")
    if create_pr:
        log(f"pull request: {open_pr.url} (all {the_plan.files_after:,} files; merge it, or rerun without "
            "--create-pr)")
        return PublishResult(the_plan, None, open_pr.url, page, commits=commits)
    if api.repo_info(repo_id, repo_type="dataset").sha != base:
        raise changed_meanwhile(repo_id, f"main moved while pull request #{open_pr.num} was being filled")
    if open_pr.status == "draft":
        api.change_discussion_status(repo_id, open_pr.num, "open", repo_type="dataset",
                                     comment="Every batch is in: merging.")
    try:
        patience.call("merges", lambda: api.merge_pull_request(repo_id, open_pr.num, repo_type="dataset",
                                                               comment="Merged by scripts/publish.py."))
    except HfHubHTTPError as error:
        if _status(error) == 409:
            raise changed_meanwhile(repo_id, f"main moved and conflicts with pull request #{open_pr.num}") from None
        raise
    merged = api.repo_info(repo_id, repo_type="dataset").sha
    url = f"{page}/commit/{merged}"
    log(f"merged pull request #{open_pr.num} into main: {url}")
    return PublishResult(the_plan, url, open_pr.url, page, commits=commits + 1)


def _pull_request_description(dataset: str, base: str) -> str:
    marker = json.dumps({"dataset": dataset, "base": base})
    return (f"A new build of `{dataset}`, committed here in batches by scripts/publish.py and merged into main in "
            "one step once every batch is in, so readers of main never see part of it. A rerun of the publish "
            f"resumes this pull request; please do not commit to it.\n\n<!-- publish.py {marker} -->")


def find_publish_pull_request(api: HfApi, repo_id: str, dataset: str) -> OpenPullRequest | None:
    """The newest open (or draft) pull request a publish of `dataset` opened on the repository, if any."""
    for discussion in api.get_repo_discussions(repo_id, repo_type="dataset", discussion_type="pull_request"):
        if discussion.status not in ("open", "draft"):
            continue
        details = api.get_discussion_details(repo_id, discussion.num, repo_type="dataset")
        opening = next((event for event in details.events if event.type == "comment"), None)
        match = PR_MARKER.search(getattr(opening, "content", "") or "")
        if match is None:
            continue
        try:
            marker = json.loads(match.group(1))
        except ValueError:
            continue
        if marker.get("dataset") == dataset and isinstance(marker.get("base"), str):
            return OpenPullRequest(details.num, marker["base"], details.status, details.url)
    return None


def create_repo(api: HfApi, repo_id: str, private: bool) -> str:
    """Create the repository and return its first commit, the parent the publish commit is checked against
    (without one, a commit landing between the creation and ours would go unnoticed)."""
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private)
    except HfHubHTTPError as error:
        if _status(error) == 409:
            raise changed_meanwhile(repo_id, "someone else created it") from None
        raise
    info = api.repo_info(repo_id, repo_type="dataset", files_metadata=True)
    if {s.rfilename for s in info.siblings or []} - {".gitattributes"}:
        raise changed_meanwhile(repo_id, "someone else committed to it right after it was created")
    return info.sha


def changed_meanwhile(repo_id: str, what: str) -> UsageError:
    return UsageError(f"{repo_id} changed while publishing ({what}); nothing was committed to main. Review the "
                      "repository, then rerun: files already uploaded are not sent again")


# ---- waiting out rate limits, falling back to LFS, explaining failures --------------------------------------------

class Patience:
    """Calls that the Hub may answer with 429: waited out as its Retry-After asks, up to `seconds` in all."""

    def __init__(self, seconds: float, repo_id: str, log):
        self.left, self.waited, self.repo_id, self.log = seconds, 0.0, repo_id, log

    def call(self, what: str, function):
        while True:
            try:
                return _with_lfs_fallback(function, self.log)
            except HfHubHTTPError as error:
                if _status(error) != 429:
                    raise
                wait = _retry_after(error)
                if wait > self.left:
                    raise UsageError(
                        f"{endpoint()} keeps refusing {what} to {self.repo_id} with 429 Too Many Requests (its rate "
                        f"limit; it asks to wait {wait:,} s more after {self.waited:,.0f} s of waiting, beyond "
                        "--rate-limit-patience); rerun later: the publish resumes and sends nothing twice") from None
                self.log(f"the Hub rate-limits {what} to {self.repo_id}: waiting {wait:,} s as it asks (Retry-After)")
                time.sleep(wait)
                self.left -= wait
                self.waited += wait


def _retry_after(error: HfHubHTTPError) -> int:
    value = (error.response.headers.get("retry-after") or "").strip()
    return int(value) if value.isdecimal() else DEFAULT_RETRY_AFTER


def _with_lfs_fallback(function, log):
    """Run an upload; if the server has no Xet storage (its Xet token route answers 404, as the local Hub's
    does), say so and run it again over LFS. On the real Hub the Xet path is used."""
    try:
        return function()
    except ConnectionError as error:
        if constants.HF_HUB_DISABLE_XET or "xet-write-token" not in str(error) or "404" not in str(error):
            raise
    log(f"{endpoint()} has no Xet storage: uploading over LFS instead (HF_HUB_DISABLE_XET=1 skips this probe)")
    constants.HF_HUB_DISABLE_XET = True
    return function()


@contextlib.contextmanager
def hub_errors(repo_id: str):
    """Failures of the Hub or of the way to it, as one line saying what happened and what to do (exit 2)."""
    try:
        yield
    except UsageError:
        raise
    except Exception as error:
        cause = error
        while cause is not None and not isinstance(cause, (HfHubHTTPError, httpx2.TransportError, ConnectionError,
                                                           TimeoutError)):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        if isinstance(cause, HfHubHTTPError):
            raise UsageError(_http_problem(cause, repo_id)) from None
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:200]
        raise UsageError(f"cannot reach the Hub at {endpoint()} ({first_line}); check HF_ENDPOINT and the "
                         "network, then rerun: files already uploaded are not sent again") from None


def _http_problem(error: HfHubHTTPError, repo_id: str) -> str:
    status = _status(error)
    request = error.response.request
    what = f"{request.method} {request.url.path}"
    if status in (401, 403):
        return (f"{endpoint()} refused the request ({status}): the token is missing or wrong, or may not write to "
                f"{repo_id}; set HF_TOKEN or run `hf auth login`")
    if status == 429:
        return (f"{endpoint()} answered 429 Too Many Requests to {what} after retrying (its rate limit); "
                "rerun later: files already uploaded are not sent again")
    if status >= 500:
        return (f"{endpoint()} answered {status} {error.response.reason_phrase} to {what} (after the client's "
                "retries): the Hub is unavailable or overloaded; rerun later: files already uploaded are not "
                "sent again")
    said = (error.server_message or "").strip().replace("\n", " ")[:300]
    return f"{endpoint()} refused {what} ({status}){': ' + said if said else ''}"


def _status(error: HfHubHTTPError) -> int | None:
    return error.response.status_code if error.response is not None else None


def _local_files(folder: Path, report: dict) -> dict[str, Path]:
    """The files a publish uploads: the card, the report, the Croissant metadata and every data file. A folder
    built before croissant.json existed lacks it, and one whose other configs failed lacks README.md:
    `published_card` makes them."""
    files = {README_FILE: folder / README_FILE, REPORT_FILE: folder / REPORT_FILE,
             CROISSANT_FILE: folder / CROISSANT_FILE}
    for config in report["configs"].values():
        for split in config["splits"].values():
            for name in split["files"]:
                files[name] = folder / name
    missing = [name for name, path in files.items() if not path.is_file() and name not in (CROISSANT_FILE, README_FILE)]
    if missing:
        raise UsageError(f"{folder}: files listed in {REPORT_FILE} are missing: {', '.join(missing)}; "
                         "rebuild the folder")
    return files


def recorded_parts(report: dict) -> dict[str, dict]:
    """Each data file's {"bytes", "sha256", ...} as the build recorded it, by its path in the repository."""
    return {name: part for config in report["configs"].values() for split in config["splits"].values()
            for name, part in zip(split["files"], split.get("parts") or ()) if part.get("sha256")}


def take_recorded_sha256(operation: CommitOperationAdd, path: Path, part: dict, report_written_ns: int) -> None:
    """Gives the upload the part's sha256 as the build recorded it (hashed as the part was written), so that a
    publish does not read every part again to hash it: a re-publish that changes only the card read the whole
    dataset. A part modified after build_report.json was written (a copy that did not keep modification times,
    or an edit) is hashed; a part that is no longer what the build wrote is refused."""
    stat = path.stat()
    if stat.st_size != part["bytes"]:
        changed = f"{stat.st_size:,} bytes, where {REPORT_FILE} records {part['bytes']:,}"
    elif stat.st_mtime_ns > report_written_ns and operation.upload_info.sha256.hex() != part["sha256"]:
        changed = f"its sha256 is not the {part['sha256']} {REPORT_FILE} records"
    else:
        operation.upload_info.sha256 = bytes.fromhex(part["sha256"])
        return
    raise UsageError(f"{path}: changed since the build ({changed}); rebuild the folder: its report, card and "
                     "croissant.json describe the files the build wrote")


def _same_content(remote_file, operation: CommitOperationAdd, content) -> bool:
    """Whether the Hub already has this file: LFS files by sha256, regular ones by git blob id.
    `content` is the bytes, or a function reading them (files are read only when needed)."""
    if remote_file is None:
        return False
    if remote_file.lfs is not None:
        return remote_file.lfs.sha256 == operation.upload_info.sha256.hex()
    return remote_file.blob_id == git_blob_oid(content() if callable(content) else content)


