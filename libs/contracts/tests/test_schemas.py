from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.compat import incompatibilities
from contracts.envelope import event_class
from contracts.export import (
    ASYNCAPI_PATH,
    REGENERATE_HINT,
    SCHEMAS_DIR,
    GitUnavailable,
    committed_versions,
    main,
)
from contracts.schemas import (
    asyncapi_document,
    contract_events,
    event_schema,
    render_json,
    schema_filename,
)
from contracts.topics import TOPICS

EVENT_TYPES = [cls.event_type for cls in contract_events()]


class TestCommittedFiles:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_schema_is_committed_and_up_to_date(self, event_type: str) -> None:
        path = SCHEMAS_DIR / schema_filename(event_type)
        assert path.exists(), f"{path} is missing: {REGENERATE_HINT}"
        expected = render_json(event_schema(event_class(event_type)))
        assert path.read_text(encoding="utf-8") == expected, (
            f"{path.name} differs from the code: {REGENERATE_HINT}"
        )

    def test_no_schema_without_an_event(self) -> None:
        expected = {schema_filename(event_type) for event_type in EVENT_TYPES}
        orphans = sorted(p.name for p in SCHEMAS_DIR.glob("*.json") if p.name not in expected)
        assert not orphans, (
            f"schemas without an event class: {orphans}; removing an event type breaks "
            "its consumers"
        )

    def test_asyncapi_document_is_up_to_date(self) -> None:
        assert ASYNCAPI_PATH.exists(), f"{ASYNCAPI_PATH} is missing: {REGENERATE_HINT}"
        assert ASYNCAPI_PATH.read_text(encoding="utf-8") == render_json(asyncapi_document()), (
            f"{ASYNCAPI_PATH.name} differs from the code: {REGENERATE_HINT}"
        )


class TestHistory:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_schema_is_compatible_with_every_committed_version(self, event_type: str) -> None:
        path = SCHEMAS_DIR / schema_filename(event_type)
        try:
            versions = committed_versions(path)
        except GitUnavailable as exc:
            pytest.skip(f"cannot check schema history: {exc}")
        if not versions:
            pytest.skip(f"{path.name} has no committed version yet")
        current = event_schema(event_class(event_type))
        problems = [
            f"{problem} (against commit {commit[:12]})"
            for commit, text in versions
            for problem in incompatibilities(json.loads(text), current)
        ]
        assert not problems, (
            f"{event_type} changed incompatibly; publish a new version (.vN+1) instead:\n"
            + "\n".join(problems)
        )


class TestSchemaContent:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_schema_documents_the_event(self, event_type: str) -> None:
        cls = event_class(event_type)
        schema = event_schema(cls)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["x-event-type"] == event_type
        assert schema["x-topic"] == cls.topic.name
        assert schema["description"].strip()
        for name, field in schema["properties"].items():
            documented = field.get("description") or schema.get("$defs", {}).get(
                field.get("$ref", "").rsplit("/", 1)[-1], {}
            ).get("description")
            assert documented, f"{event_type}.{name} has no description"

    def test_render_is_stable(self) -> None:
        text = render_json({"b": 1, "a": {"d": [1], "c": "ё"}})
        assert text == '{\n  "a": {\n    "c": "ё",\n    "d": [\n      1\n    ]\n  },\n  "b": 1\n}\n'


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


class TestAsyncApi:
    def test_header(self, document: dict[str, Any]) -> None:
        assert document["asyncapi"] == "3.0.0"
        assert document["servers"]["kafka"] == {
            "host": "kafka:9092",
            "protocol": "kafka",
            "description": "Placeholder: every deployment names its own brokers.",
        }

    def test_a_channel_per_topic(self, document: dict[str, Any]) -> None:
        assert set(document["channels"]) == {topic.name for topic in TOPICS}
        for topic in TOPICS:
            channel = document["channels"][topic.name]
            assert channel["address"] == topic.name
            binding = channel["bindings"]["kafka"]
            assert binding["partitions"] == topic.partitions
            assert binding["topicConfiguration"]["cleanup.policy"] == [topic.cleanup_policy]
            assert binding["topicConfiguration"].get("retention.ms") == topic.retention_ms

    def test_every_event_is_a_message_of_its_channel(self, document: dict[str, Any]) -> None:
        for cls in contract_events():
            channel = document["channels"][cls.topic.name]
            assert cls.event_type in channel["messages"]
            message = document["components"]["messages"][cls.event_type]
            assert message["headers"]["properties"]["ce_type"]["const"] == cls.event_type
            assert message["bindings"]["kafka"]["key"]["description"] == cls.topic.key
            assert message["payload"] == {"$ref": f"#/components/schemas/{cls.__name__}"}

    def test_every_reference_resolves(self, document: dict[str, Any]) -> None:
        def refs(node: Any) -> Iterator[str]:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "$ref":
                        yield value
                    else:
                        yield from refs(value)
            elif isinstance(node, list):
                for item in node:
                    yield from refs(item)

        for ref in refs(document):
            node: Any = document
            for part in ref.removeprefix("#/").split("/"):
                assert part in node, f"dangling $ref {ref}"
                node = node[part]


def run_export(tmp_path: Path, *args: str) -> int:
    return main(
        ["--schemas-dir", str(tmp_path / "schemas"), "--asyncapi", str(tmp_path / "a.json"), *args]
    )


def payment_schema_path(tmp_path: Path) -> Path:
    return tmp_path / "schemas" / "billing.payment.succeeded.v1.json"


def with_legacy_field(text: str) -> str:
    schema = json.loads(text)
    schema["properties"]["legacy_id"] = {"type": "string"}
    schema["required"].append("legacy_id")
    return render_json(schema)


class TestExporter:
    def test_writes_everything_and_regenerates_without_a_diff(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_export(tmp_path) == 0
        written = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json")}
        assert set(written) == {"a.json", *(schema_filename(t) for t in EVENT_TYPES)}
        assert all(text.endswith("}\n") for text in written.values())
        capsys.readouterr()

        assert run_export(tmp_path) == 0
        assert "everything up to date" in capsys.readouterr().out
        assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json")} == written
        assert run_export(tmp_path, "--check") == 0

    def test_writes_the_same_as_committed(self, tmp_path: Path) -> None:
        assert run_export(tmp_path) == 0
        for event_type in EVENT_TYPES:
            name = schema_filename(event_type)
            assert (tmp_path / "schemas" / name).read_bytes() == (SCHEMAS_DIR / name).read_bytes()

    def test_check_reports_stale_files(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_export(tmp_path) == 0
        path = payment_schema_path(tmp_path)
        schema = json.loads(path.read_text(encoding="utf-8"))
        schema["description"] = "old words"
        path.write_text(render_json(schema), encoding="utf-8")
        capsys.readouterr()

        assert run_export(tmp_path, "--check") == 1
        err = capsys.readouterr().err
        assert f"out of date: {path}" in err
        assert "make contracts" in err
        assert json.loads(path.read_text(encoding="utf-8"))["description"] == "old words"

        assert run_export(tmp_path) == 0
        assert run_export(tmp_path, "--check") == 0

    def test_refuses_an_incompatible_change(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_export(tmp_path) == 0
        path = payment_schema_path(tmp_path)
        old = with_legacy_field(path.read_text(encoding="utf-8"))
        path.write_text(old, encoding="utf-8")
        capsys.readouterr()

        assert run_export(tmp_path) == 1
        err = capsys.readouterr().err
        assert (
            "billing.payment.succeeded.v1: legacy_id: field removed (against the file on disk)"
            in err
        )
        assert "Refusing to write" in err
        assert path.read_text(encoding="utf-8") == old
        assert run_export(tmp_path, "--check") == 1

    def test_allow_breaking_overwrites(self, tmp_path: Path) -> None:
        assert run_export(tmp_path) == 0
        path = payment_schema_path(tmp_path)
        path.write_text(with_legacy_field(path.read_text(encoding="utf-8")), encoding="utf-8")

        assert run_export(tmp_path, "--allow-breaking") == 0
        assert "legacy_id" not in path.read_text(encoding="utf-8")
        assert run_export(tmp_path) == 0

    def test_a_removed_event_type_is_breaking(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_export(tmp_path) == 0
        orphan = tmp_path / "schemas" / "billing.refund.succeeded.v1.json"
        orphan.write_text("{}\n", encoding="utf-8")
        capsys.readouterr()

        assert run_export(tmp_path) == 1
        assert "billing.refund.succeeded.v1: event type removed" in capsys.readouterr().err
        assert orphan.exists()
        assert run_export(tmp_path, "--allow-breaking") == 0
        assert not orphan.exists()


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for name, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    git(tmp_path, "init", "--quiet")
    return tmp_path


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


class TestGitHistory:
    def test_not_a_checkout(self, tmp_path: Path) -> None:
        with pytest.raises(GitUnavailable):
            committed_versions(tmp_path / "x.json")

    def test_no_commit_yet(self, git_repo: Path) -> None:
        with pytest.raises(GitUnavailable, match="at least one commit"):
            committed_versions(git_repo / "x.json")

    def test_versions_newest_first(self, git_repo: Path) -> None:
        path = git_repo / "schemas" / "x.json"
        path.parent.mkdir()
        for text in ("one\n", "two\n"):
            path.write_text(text, encoding="utf-8")
            git(git_repo, "add", "-A")
            git(git_repo, "commit", "--quiet", "-m", text.strip())
        (git_repo / "other").write_text("unrelated", encoding="utf-8")
        git(git_repo, "add", "-A")
        git(git_repo, "commit", "--quiet", "-m", "unrelated")
        path.write_text("three, not committed\n", encoding="utf-8")

        assert [text for _, text in committed_versions(path)] == ["two\n", "one\n"]
        assert committed_versions(git_repo / "schemas" / "never.json") == []

    def test_deleted_versions_are_skipped(self, git_repo: Path) -> None:
        path = git_repo / "x.json"
        path.write_text("one\n", encoding="utf-8")
        git(git_repo, "add", "-A")
        git(git_repo, "commit", "--quiet", "-m", "add")
        git(git_repo, "rm", "--quiet", "x.json")
        git(git_repo, "commit", "--quiet", "-m", "remove")
        assert [text for _, text in committed_versions(path)] == ["one\n"]

    def test_exporter_refuses_what_history_forbids(
        self, git_repo: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run_export(git_repo) == 0
        path = payment_schema_path(git_repo)
        current = path.read_text(encoding="utf-8")
        path.write_text(with_legacy_field(current), encoding="utf-8")
        git(git_repo, "add", "-A")
        git(git_repo, "commit", "--quiet", "-m", "an older release had legacy_id")
        path.write_text(current, encoding="utf-8")
        capsys.readouterr()

        assert run_export(git_repo) == 1
        assert "legacy_id: field removed (against commit " in capsys.readouterr().err
