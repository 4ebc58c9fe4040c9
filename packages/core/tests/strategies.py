"""Hypothesis strategies the codec and manifest tests share: Hugging Face names and paths."""

from __future__ import annotations

import hypothesis.strategies as st

segments = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,15}", fullmatch=True).filter(
    lambda s: ".." not in s
)
"""One safe path segment or repo name part (no traversal)."""
repo_ids = st.builds("{}/{}".format, segments, segments)


def gguf_paths(max_dirs: int) -> st.SearchStrategy[str]:
    """A ``.gguf`` file's path in a repo, under at most ``max_dirs`` folders."""
    return st.builds(
        lambda dirs, stem: "/".join([*dirs, f"{stem}.gguf"]),
        st.lists(segments, max_size=max_dirs),
        segments,
    )
