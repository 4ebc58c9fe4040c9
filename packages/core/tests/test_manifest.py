"""Model references, specs and manifests: parsing, traversal refusal, merging."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rusty_genius_core import (
    DEFAULT_REVISION,
    Adapter,
    ManifestError,
    Mirror,
    ModelEntry,
    ModelReference,
    ModelSpec,
    Purpose,
    UserManifest,
    filename_matches_quant,
    merge_manifests,
)

from .manifests import entry_fields
from .strategies import gguf_paths, repo_ids, segments
from .test_adapter import HUB, LOCAL
from .test_adapter import manifest as with_adapters
from .test_mirror import PYPI, URL
from .test_mirror import manifest as with_mirrors

if TYPE_CHECKING:
    from collections.abc import Callable

SLOW_OK = settings(deadline=None)

relative_paths = gguf_paths(max_dirs=3)
quantizations = st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True)
aliases = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,30}", fullmatch=True).filter(
    lambda s: ".." not in s
)

# ------------------------------------------------------------- malicious paths

# Segments that climb out, or that some platform reads as climbing out.
CLIMBERS = ["..", ".. ", " ..", "...", ". .", "."]


@st.composite
def traversal_paths(draw: st.DrawFn) -> str:
    """A path with a climbing segment somewhere, joined with '/' or '\\'."""
    parts = draw(st.lists(segments, min_size=1, max_size=4))
    at = draw(st.integers(min_value=0, max_value=len(parts) - 1))
    parts.insert(at, draw(st.sampled_from(CLIMBERS)))
    return draw(st.sampled_from(["/", "\\"])).join(parts)


@st.composite
def malicious_paths(draw: st.DrawFn) -> str:
    """Strings that must never become a path under the models directory."""
    clean = draw(relative_paths)
    kind = draw(st.sampled_from(["climb", "absolute", "backslash", "drive", "control", "unc"]))
    if kind == "climb":
        return f"{draw(traversal_paths())}/{clean}"
    if kind == "absolute":
        return draw(st.sampled_from(["/", "//", "/./"])) + clean
    if kind == "backslash":
        at = draw(st.integers(min_value=0, max_value=len(clean)))
        return clean[:at] + "\\" + clean[at:]
    if kind == "drive":
        letter = draw(st.sampled_from(string.ascii_letters))
        separator = draw(st.sampled_from(["", "/", "\\"]))
        return f"{letter}:{separator}{clean}"
    if kind == "unc":
        return f"\\\\server\\share\\{clean}"
    at = draw(st.integers(min_value=0, max_value=len(clean)))
    control = draw(st.sampled_from(["\x00", "\n", "\r", "\t", "\x1b", "\x7f"]))
    return clean[:at] + control + clean[at:]


@st.composite
def malicious_repos(draw: st.DrawFn) -> str:
    org, name = draw(segments), draw(segments)
    return draw(
        st.sampled_from(
            [
                f"../{name}",
                f"{org}/..",
                f"{org}/../{name}",
                f"/{org}/{name}",
                f"{org}\\{name}",
                f"{org}/{name}\\..",
                f"C:/{org}/{name}",
                f"{org}/{name}\x00",
                f"{org}/{name}\n",
                f"{org}/.{name}",
                f"{org}/{name}/extra",
                f"./{name}",
                f"{org}/{name}..",
                f"~/{name}",
            ]
        )
    )


@SLOW_OK
@given(path=malicious_paths())
def test_malicious_filenames_are_refused_everywhere(path: str) -> None:
    with pytest.raises(ManifestError, match="filename"):
        ModelSpec(name="m", repo="org/repo", filename=path, quantization="Q4_0")
    with pytest.raises(ManifestError, match=r"\[models\.m\]\.filename"):
        UserManifest.from_dict({"models": {"m": {"filename": path}}})
    with pytest.raises(ManifestError, match=r"ModelEntry\.filename"):
        ModelEntry(filename=path)


@SLOW_OK
@given(repo=malicious_repos(), quant=st.none() | st.just("Q4_K_M"))
def test_malicious_repos_are_refused_everywhere(repo: str, quant: str | None) -> None:
    if repo == repo.strip():  # parse() strips the whitespace users type around a reference
        with pytest.raises(ManifestError):
            ModelReference.parse(repo if quant is None else f"{repo}:{quant}")
    with pytest.raises(ManifestError, match=r"ModelReference\.repo"):
        ModelReference(repo=repo)
    with pytest.raises(ManifestError, match="repo"):
        ModelSpec(name="m", repo=repo, filename="m.gguf", quantization="Q4_0")
    with pytest.raises(ManifestError, match=r"\[models\.m\]\.repo"):
        UserManifest.from_dict({"models": {"m": {"repo": repo}}})
    with pytest.raises(ManifestError, match=r"ModelEntry\.repo"):
        ModelEntry(repo=repo)


@SLOW_OK
@given(path=relative_paths, repo=repo_ids)
def test_clean_paths_and_repos_are_accepted(path: str, repo: str) -> None:
    """The refusals above are not blanket ones: the same shapes without the trick pass."""
    spec = ModelSpec(name="m", repo=repo, filename=path, quantization="Q4_0")
    assert (spec.repo, spec.filename) == (repo, path)
    assert ModelReference.parse(repo).repo == repo
    assert ModelEntry(repo=repo, filename=path).filename == path


@pytest.mark.parametrize(
    "revision", ["..", "a/../b", "/main", "main\n", "", "-main", "a" * 256, "ma in", 7]
)
def test_bad_revisions_are_refused(revision: Any) -> None:
    with pytest.raises(ManifestError, match=r"ModelSpec\.revision"):
        ModelSpec(name="m", repo="o/r", filename="m.gguf", quantization="Q4_0", revision=revision)
    with pytest.raises(ManifestError, match=r"\[models\.m\]\.revision"):
        UserManifest.from_dict({"models": {"m": {"revision": revision}}})


# ------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("text", "alias", "repo", "quant"),
    [
        ("smollm2", "smollm2", None, None),
        ("  Gemma3-270m ", "gemma3-270m", None, None),
        ("qwen2.5_1.5b", "qwen2.5_1.5b", None, None),
        ("Qwen/Qwen2.5-1.5B-Instruct-GGUF", None, "Qwen/Qwen2.5-1.5B-Instruct-GGUF", None),
        ("org/repo:q4_k_m", None, "org/repo", "Q4_K_M"),
        ("org/repo:Q8_0", None, "org/repo", "Q8_0"),
        ("unsloth/gemma-3-270m-it-GGUF:bf16", None, "unsloth/gemma-3-270m-it-GGUF", "BF16"),
    ],
)
def test_reference_forms(text: str, alias: str | None, repo: str | None, quant: str | None) -> None:
    ref = ModelReference.parse(text)
    assert (ref.alias, ref.repo, ref.quantization) == (alias, repo, quant)
    assert ModelReference.parse(str(ref)) == ref


@SLOW_OK
@given(repo=repo_ids, quant=st.none() | quantizations)
def test_reference_round_trips_through_str(repo: str, quant: str | None) -> None:
    ref = ModelReference.parse(repo if quant is None else f"{repo}:{quant}")
    assert ref.repo == repo
    assert ref.quantization == (None if quant is None else quant.upper())
    assert ModelReference.parse(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("smol:Q4", "a quantization needs a repo"),
        ("org/repo:", "empty quantization"),
        ("org/repo:Q4-K", "not a quantization name"),
        ("org/repo:Q4:Q5", "not a quantization name"),
        ("org/repo:" + "Q" * 33, "not a quantization name"),
        ("smol..2", "not a valid alias"),
        ("-smol", "not a valid alias"),
        ("smol\n2", "not a valid alias"),
        ("org/repo/extra", "exactly one '/'"),
        ("org/re po", "invalid segment"),
    ],
)
def test_bad_references_name_the_reference(text: str, error: str) -> None:
    with pytest.raises(ManifestError, match=error) as caught:
        ModelReference.parse(text)
    if text.strip():
        assert repr(text.strip()) in str(caught.value)


def test_reference_parse_refuses_non_strings() -> None:
    with pytest.raises(ManifestError, match="non-empty string"):
        ModelReference.parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "exactly one of 'alias' or 'repo'"),
        ({"alias": "a", "repo": "o/r"}, "exactly one of 'alias' or 'repo'"),
        ({"alias": "Upper"}, r"ModelReference\.alias"),
        ({"alias": "a", "quantization": "Q4_0"}, "needs a repo"),
        ({"repo": "o/r", "quantization": "q4_0"}, "upper case"),
        ({"repo": "o/r", "quantization": "Q4-0"}, "not a quantization name"),
    ],
)
def test_references_built_in_code_are_checked(kwargs: dict[str, str], error: str) -> None:
    with pytest.raises(ManifestError, match=error):
        ModelReference(**kwargs)


# ------------------------------------------------------------- ModelSpec


def _spec(**changes: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "name": "smollm2",
        "repo": "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
        "filename": "smollm2-135m-instruct-q4_1.gguf",
        "quantization": "Q4_1",
    }
    return ModelSpec(**{**fields, **changes})


def test_spec_defaults_and_reference() -> None:
    spec = _spec()
    assert spec.revision == DEFAULT_REVISION == "main"
    assert spec.sha256 is None
    assert spec.size is None
    assert spec.purpose is Purpose.CHAT
    assert spec.reference == "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF:Q4_1"
    assert _spec(purpose="embedding").purpose is Purpose.EMBEDDING


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": 3}, "name"),
        ({"quantization": "q4_1"}, "quantization"),
        ({"quantization": ""}, "quantization"),
        ({"quantization": "Q4 1"}, "quantization"),
        ({"filename": "model.bin"}, "filename"),
        ({"filename": ""}, "filename"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"sha256": "0" * 63}, "sha256"),
        ({"sha256": "0" * 64 + "\n"}, "sha256"),
        ({"size": -1}, "size"),
        ({"size": True}, "size"),
        ({"size": 1.5}, "size"),
        ({"purpose": "chatting"}, "purpose"),
        ({"repo": "no-slash"}, "repo"),
    ],
)
def test_spec_validation_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ManifestError, match=rf"ModelSpec\.{field}"):
        _spec(**changes)


def test_spec_accepts_split_and_nested_files() -> None:
    spec = _spec(filename="Q4_1/smollm2-135m-instruct-q4_1-00001-of-00002.gguf", size=0)
    assert spec.filename.startswith("Q4_1/")
    assert _spec(sha256="a" * 64, revision="refs/pr/1").revision == "refs/pr/1"


@pytest.mark.parametrize(
    ("filename", "quant", "matches"),
    [
        ("smollm2-135m-instruct-q4_1.gguf", "Q4_1", True),
        ("model-Q4_K_M.gguf", "Q4_K_M", True),
        ("model-Q4_K_M.gguf", "Q4_K", False),
        ("model-Q4_K.gguf", "Q4_K_M", False),
        ("model.Q8_0.gguf", "Q8_0", True),
        ("modelQ8_0.gguf", "Q8_0", False),
        ("Q8_0.gguf", "Q8_0", True),
    ],
)
def test_filename_matches_quant(filename: str, quant: str, matches: bool) -> None:
    assert filename_matches_quant(filename, quant) is matches


# ------------------------------------------------------------- UserManifest


def test_manifest_from_dict_reads_defaults_and_entries() -> None:
    manifest = UserManifest.from_dict(
        {
            "defaults": {"quantization": "q4_k_m", "revision": "main", "purpose": "chat"},
            "models": {
                "qwen": {"repo": "Qwen/Qwen2.5-1.5B-Instruct-GGUF"},
                "smol": {
                    "repo": "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                    "filename": "smollm2-135m-instruct-q4_1.gguf",
                    "quantization": "Q4_1",
                    "size": 100,
                    "sha256": "b" * 64,
                    "purpose": "completion",
                },
            },
        },
        source="models.toml",
    )
    assert manifest.defaults == ModelEntry(
        quantization="Q4_K_M", revision="main", purpose=Purpose.CHAT
    )
    assert entry_fields(manifest, "qwen", "repo", "quantization", "filename") == (
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "Q4_K_M",
        None,
    )
    assert entry_fields(manifest, "smol", "quantization", "purpose", "size") == (
        "Q4_1",
        Purpose.COMPLETION,
        100,
    )
    assert manifest.entry("missing") is None
    found = manifest.find_repo("huggingfacetb/smollm2-135m-instruct-gguf")
    assert found is not None
    assert found[0] == "smol"
    assert UserManifest.from_dict(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("data", "table", "key"),
    [
        ({"models": {"smol": {"repo": "o/r", "file": "x.gguf"}}}, "[models.smol]", "file"),
        ({"models": {"smol": {"quant": "Q4_0"}}}, "[models.smol]", "quant"),
        ({"defaults": {"repo": "o/r"}}, "[defaults]", "repo"),
        ({"defaults": {"temperature": 0.1}}, "[defaults]", "temperature"),
        ({"model": {}}, "top-level", "model"),
        ({"defaults": {}, "extra": 1}, "top-level", "extra"),
    ],
)
def test_unknown_keys_name_the_key_and_the_table(
    data: dict[str, Any], table: str, key: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        UserManifest.from_dict(data, source="models.toml")
    message = str(caught.value)
    assert message.startswith("models.toml: ")
    assert table in message
    assert key in message


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "must be a table"),
        ({"models": []}, r"\[models\] must be a table"),
        ({"defaults": "Q4"}, r"\[defaults\] must be a table"),
        ({"models": {"smol": "o/r"}}, r"\[models\.smol\] must be a table"),
        ({"models": {"Smol": {}}}, "alias 'Smol'"),
        ({"models": {"a..b": {}}}, "alias 'a..b'"),
        ({"models": {"smol\n": {}}}, "alias 'smol\\\\n'"),
        ({"models": {"s": {"size": -1}}}, r"\[models\.s\]\.size"),
        ({"models": {"s": {"size": "1"}}}, r"\[models\.s\]\.size"),
        ({"models": {"s": {"purpose": "poetry"}}}, r"\[models\.s\]\.purpose"),
        ({"models": {"s": {"sha256": "xyz"}}}, r"\[models\.s\]\.sha256"),
        ({"models": {"s": {"quantization": "Q4-0"}}}, r"\[models\.s\]\.quantization"),
        (
            {"models": {"s": {"filename": "s-Q8_0.gguf", "quantization": "Q4_0"}}},
            r"\[models\.s\]: filename 's-Q8_0.gguf' does not match quantization 'Q4_0'",
        ),
        (
            {"defaults": {"quantization": "Q4_K_M"}, "models": {"s": {"filename": "s-q4_1.gguf"}}},
            r"\[models\.s\]: .*'Q4_K_M' \(from \[defaults\]\)",
        ),
    ],
)
def test_bad_manifests_name_the_place(data: Any, error: str) -> None:
    with pytest.raises(ManifestError, match=error):
        UserManifest.from_dict(data)


# ------------------------------------------------------------- merging

BASE = UserManifest.from_dict(
    {
        "defaults": {"quantization": "Q4_K_M", "revision": "main"},
        "models": {
            "smol": {
                "repo": "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                "filename": "smollm2-135m-instruct-q4_1.gguf",
                "quantization": "Q4_1",
                "revision": "0123abc",
                "sha256": "c" * 64,
                "size": 105_000_000,
            },
            "qwen": {"repo": "Qwen/Qwen2.5-1.5B-Instruct-GGUF"},
        },
    }
)


def test_merge_fills_partial_entries_from_defaults() -> None:
    merged = merge_manifests(BASE, UserManifest.from_dict({"models": {"mine": {"repo": "me/m"}}}))
    mine = merged.entry("mine")
    assert mine == ModelEntry(repo="me/m", quantization="Q4_K_M", revision="main")
    assert merged.entry("smol") == BASE.entry("smol")


def test_merge_lets_user_values_win() -> None:
    override = UserManifest.from_dict(
        {
            "defaults": {"quantization": "Q8_0", "purpose": "completion"},
            "models": {"qwen": {"revision": "v2"}},
        }
    )
    merged = merge_manifests(BASE, override)
    assert merged.defaults == ModelEntry(
        quantization="Q8_0", revision="main", purpose=Purpose.COMPLETION
    )
    assert entry_fields(merged, "qwen", "repo", "quantization", "revision") == (
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "Q8_0",
        "v2",
    )


def test_merge_with_an_empty_override_changes_nothing() -> None:
    assert merge_manifests(BASE, UserManifest()) == BASE
    assert merge_manifests(UserManifest(), BASE) == BASE


def test_changing_the_quantization_drops_the_pinned_file() -> None:
    override = UserManifest.from_dict({"models": {"smol": {"quantization": "Q8_0"}}})
    smol = merge_manifests(BASE, override).entry("smol")
    assert smol is not None
    assert (smol.repo, smol.quantization) == ("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "Q8_0")
    assert (smol.filename, smol.sha256, smol.size) == (None, None, None)


@SLOW_OK
@given(
    repo=repo_ids,
    filename=relative_paths,
    quant=st.none() | quantizations.map(str.upper),
    revision=st.none() | st.sampled_from(["v1", "refs/pr/3", "abc123"]),
)
def test_file_bound_fields_never_leak_across_a_repo_change(
    repo: str, filename: str, quant: str | None, revision: str | None
) -> None:
    assume(repo != "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    raw: dict[str, Any] = {"repo": repo}
    if quant is not None:
        raw["quantization"] = quant
        if filename_matches_quant(filename.rsplit("/", 1)[-1], quant):
            raw["filename"] = filename
    if revision is not None:
        raw["revision"] = revision
    override = UserManifest.from_dict({"models": {"smol": raw}})
    smol = merge_manifests(BASE, override).models["smol"]
    assert smol == override.models["smol"]  # replaced whole
    assert smol.sha256 is None
    assert smol.size is None
    assert smol.filename == raw.get("filename")
    assert smol.revision == revision  # the old repo's commit does not follow


@pytest.mark.parametrize(
    ("override", "error"),
    [
        (
            {"models": {"smol": {"filename": "smollm2-135m-instruct-q8_0.gguf"}}},
            r"merged manifest: \[models\.smol\]: filename .* does not match quantization 'Q4_1'",
        ),
        (
            {"models": {"qwen": {"filename": "qwen-Q8_0.gguf"}}},
            r"merged manifest: \[models\.qwen\]: .*'Q4_K_M' \(from \[defaults\]\)",
        ),
    ],
)
def test_filename_and_quant_conflicts_name_the_alias(override: dict[str, Any], error: str) -> None:
    with pytest.raises(ManifestError, match=error):
        merge_manifests(BASE, UserManifest.from_dict(override))


def test_a_new_default_quantization_unpins_files_of_the_old_one() -> None:
    """A user choosing Q8_0 for everything must not get Q4_K_M files labelled Q8_0."""
    base = UserManifest.from_dict(
        {
            "defaults": {"quantization": "Q4_K_M"},
            "models": {
                "gemma": {"repo": "o/gemma", "filename": "gemma-q4_k_m.gguf", "size": 10},
                "smol": {"repo": "o/smol", "filename": "smol.Q4_1.gguf", "quantization": "Q4_1"},
            },
        }
    )
    merged = merge_manifests(base, UserManifest.from_dict({"defaults": {"quantization": "Q8_0"}}))
    assert merged.entry("gemma") == ModelEntry(repo="o/gemma", quantization="Q8_0")
    assert merged.entry("smol") == base.entry("smol")  # its own quantization keeps its file
    same = merge_manifests(base, UserManifest.from_dict({"defaults": {"quantization": "q4_k_m"}}))
    assert same == base


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"repo": "../r"}, "repo"),
        ({"filename": "/abs.gguf"}, "filename"),
        ({"quantization": "q4_0"}, "quantization"),
        ({"revision": "../x"}, "revision"),
        ({"sha256": "z"}, "sha256"),
        ({"size": -3}, "size"),
        ({"purpose": "chat"}, "purpose"),
    ],
)
def test_entries_built_in_code_are_checked(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ManifestError, match=rf"ModelEntry\.{field}"):
        ModelEntry(**kwargs)


@pytest.mark.parametrize(
    ("with_list", "field", "kind", "first", "second"),
    [
        (with_adapters, "adapters", Adapter, LOCAL, HUB),
        (with_mirrors, "mirrors", Mirror, PYPI, URL),
    ],
    ids=["adapters", "mirrors"],
)
def test_per_file_lists_stay_with_their_repo_when_manifests_merge(
    with_list: Callable[[object], UserManifest],
    field: str,
    kind: type[Any],
    first: dict[str, Any],
    second: dict[str, Any],
) -> None:
    """Adapters and mirrors are of one repo's file: kept across a change of revision,
    dropped when an override moves the entry to another repo, replaced by the override's."""
    base = with_list([first])
    same_repo = UserManifest.from_dict({"models": {"m": {"revision": "v2"}}})
    assert getattr(merge_manifests(base, same_repo).models["m"], field) == (kind(**first),)
    other_repo = UserManifest.from_dict({"models": {"m": {"repo": "else/where"}}})
    assert getattr(merge_manifests(base, other_repo).models["m"], field) is None
    own = UserManifest.from_dict({"models": {"m": {field: [second]}}})
    assert getattr(merge_manifests(base, own).models["m"], field) == (kind(**second),)
    entry = base.models["m"]
    assert getattr(entry.over(UserManifest().defaults), field) == (kind(**first),)
    moved = UserManifest.from_dict({"models": {"m": {"repo": "else/where"}}}).models["m"]
    assert getattr(moved.over(entry), field) is None
