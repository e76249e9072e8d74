"""Write the committed JSON Schemas and the AsyncAPI document: ``python -m contracts.export``.

Refuses (exit status 1) to replace a schema with one that is incompatible with the file on
disk or with any version of it in git history, unless ``--allow-breaking`` is given. With
``--check`` it writes nothing and fails if any file is out of date.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contracts.compat import incompatibilities
from contracts.schemas import (
    asyncapi_document,
    contract_events,
    event_schema,
    render_json,
    schema_filename,
)

LIB_DIR: Final = Path(__file__).resolve().parents[2]
SCHEMAS_DIR: Final = LIB_DIR / "schemas"
REPO_ROOT: Final = LIB_DIR.parents[1]
ASYNCAPI_PATH: Final = REPO_ROOT / "docs" / "asyncapi.json"
REGENERATE_HINT: Final = "run `make contracts` (python -m contracts.export)"


class GitUnavailable(Exception):
    """No git history to look at: git missing, not a checkout, or no commit yet."""


def committed_versions(path: Path) -> list[tuple[str, str]]:
    """``(commit, text)`` of every committed version of ``path``, newest first.

    Raises ``GitUnavailable`` when there is no git history at all; a file that was never
    committed simply has no versions.
    """
    directory = path.resolve().parent
    while not directory.is_dir():
        directory = directory.parent
    relative = path.resolve().relative_to(directory).as_posix()
    if _git(directory, "rev-parse", "--verify", "--quiet", "HEAD") is None:
        raise GitUnavailable(f"{directory} is not in a git checkout with at least one commit")
    log = _git(directory, "log", "--format=%H", "--", relative)
    if log is None:
        raise GitUnavailable(f"git log failed in {directory}")
    versions = []
    for commit in log.split():
        # A commit that deleted the file is in the log too; it has no text to compare.
        text = _git(directory, "show", f"{commit}:./{relative}")
        if text is not None:
            versions.append((commit, text))
    return versions


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            encoding="utf-8",
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@dataclass(frozen=True)
class _Baseline:
    origin: str
    text: str


def _baselines(path: Path) -> list[_Baseline]:
    baselines: list[_Baseline] = []
    if path.exists():
        baselines.append(_Baseline("the file on disk", path.read_text(encoding="utf-8")))
    try:
        versions = committed_versions(path)
    except GitUnavailable:
        versions = []
    for commit, text in versions:
        if all(text != baseline.text for baseline in baselines):
            baselines.append(_Baseline(f"commit {commit[:12]}", text))
    return baselines


def breaking_changes(schemas_dir: Path) -> list[str]:
    """Every incompatibility between the schemas the code defines now and committed ones."""
    problems: list[str] = []
    expected: set[str] = set()
    for cls in contract_events():
        path = schemas_dir / schema_filename(cls.event_type)
        expected.add(path.name)
        new_schema = event_schema(cls)
        for baseline in _baselines(path):
            try:
                old_schema = json.loads(baseline.text)
            except ValueError as exc:
                problems.append(f"{cls.event_type}: {baseline.origin} is not JSON ({exc})")
                continue
            problems.extend(
                f"{cls.event_type}: {problem} (against {baseline.origin})"
                for problem in incompatibilities(old_schema, new_schema)
            )
    if schemas_dir.is_dir():
        for orphan in sorted(schemas_dir.glob("*.json")):
            if orphan.name not in expected:
                problems.append(
                    f"{orphan.stem}: event type removed (schema file has no event class)"
                )
    return problems


def planned_files(schemas_dir: Path, asyncapi_path: Path) -> dict[Path, str]:
    """Every generated file and the text it should have."""
    files = {
        schemas_dir / schema_filename(cls.event_type): render_json(event_schema(cls))
        for cls in contract_events()
    }
    files[asyncapi_path] = render_json(asyncapi_document())
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m contracts.export", description=__doc__.split("\n", 1)[0] if __doc__ else ""
    )
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="write even incompatible schemas and delete schemas of removed event types",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; fail if any file is out of date"
    )
    parser.add_argument("--schemas-dir", type=Path, default=SCHEMAS_DIR)
    parser.add_argument("--asyncapi", type=Path, default=ASYNCAPI_PATH)
    args = parser.parse_args(argv)
    schemas_dir: Path = args.schemas_dir
    asyncapi_path: Path = args.asyncapi

    problems = breaking_changes(schemas_dir)
    if problems:
        print("Incompatible schema changes:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        if not args.allow_breaking:
            print(
                "Refusing to write. Publish the change as a new event type version (.vN+1), "
                "or pass --allow-breaking if the old schema was never released.",
                file=sys.stderr,
            )
            return 1

    files = planned_files(schemas_dir, asyncapi_path)
    stale = [
        path
        for path, text in files.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    orphans = (
        [path for path in sorted(schemas_dir.glob("*.json")) if path not in files]
        if schemas_dir.is_dir()
        else []
    )

    if args.check:
        for path in [*stale, *orphans]:
            print(f"out of date: {path}", file=sys.stderr)
        if stale or orphans:
            print(REGENERATE_HINT, file=sys.stderr)
            return 1
        return 0

    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {path}")
    for path in orphans:
        path.unlink()
        print(f"deleted {path}")
    if not stale and not orphans:
        print("contracts: everything up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
