"""Where devstack keeps downloaded tools (cache) and server state (data) by default."""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_cache_dir", "default_data_dir", "repo_root"]


def repo_root(start: Path | None = None) -> Path:
    """Return the monorepo root: the nearest directory at or above ``start`` holding ``uv.lock``.

    ``start`` defaults to this file's location, so the answer does not depend on the
    current working directory. Raises ``FileNotFoundError`` when no ``uv.lock`` is found.
    """
    here = (start or Path(__file__)).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "uv.lock").is_file():
            return candidate
    raise FileNotFoundError(f"no uv.lock found at or above {here}; pass cache/data dirs explicitly")


def default_cache_dir() -> Path:
    """``<repo>/.cache``: downloaded artefacts that can be rebuilt (git-ignored)."""
    return repo_root() / ".cache"


def default_data_dir() -> Path:
    """``<repo>/.data``: local server state (git-ignored)."""
    return repo_root() / ".data"
