"""LoRA adapters in manifests: the schema, its errors, parsing, merging and set keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rusty_genius_core import (
    Adapter,
    AdapterFile,
    ManifestError,
    ModelSpec,
    UserManifest,
    adapter_set_key,
)
from rusty_genius_core.conversion import converter
from rusty_genius_core.limits import ADAPTER_SCALE, MAX_ADAPTERS

HUB = {"repo": "acme/router-lora", "filename": "router-f16.gguf", "scale": 0.5}
LOCAL = {"path": "/srv/adapters/tone.gguf"}
ROUTER = """
[models.router]
repo = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
filename = "smollm2-135m-instruct-q4_k_m.gguf"

[[models.router.adapters]]
repo = "acme/router-lora"
filename = "router-f16.gguf"
revision = "v1"
sha256 = "{sha}"
size = 1234
scale = 0.8
name = "router"

[[models.router.adapters]]
path = "/srv/adapters/tone.gguf"
"""


def manifest(adapters: object, repo: str = "org/repo") -> UserManifest:
    entry = {"repo": repo, "filename": "m.Q4_1.gguf", "adapters": adapters}
    return UserManifest.from_dict({"models": {"m": entry}})


def test_adapters_decode_from_toml_in_order_and_round_trip() -> None:
    parsed = UserManifest.from_dict(tomllib.loads(ROUTER.format(sha="ab" * 32)))
    adapters = parsed.models["router"].adapters
    assert adapters is not None
    hub, local = adapters
    assert (hub.repo, hub.filename, hub.revision, hub.sha256, hub.size, hub.scale) == (
        "acme/router-lora",
        "router-f16.gguf",
        "v1",
        "ab" * 32,
        1234,
        0.8,
    )
    assert (hub.label, str(hub)) == ("router", "acme/router-lora:router-f16.gguf")
    assert (local.path, local.scale, local.label) == (LOCAL["path"], 1.0, "tone")
    plain = parsed.to_dict()
    assert plain["models"]["router"]["adapters"][1] == LOCAL  # the default scale is left out
    assert UserManifest.from_dict(plain) == parsed
    assert UserManifest.from_dict(tomllib.loads(tomllib_dump_like(plain))) == parsed


def tomllib_dump_like(plain: dict[str, object]) -> str:
    """The manifest's plain tables as TOML text (what facecrab writes), for a full circle."""
    lines: list[str] = []
    models = plain["models"]
    assert isinstance(models, dict)
    for alias, entry in models.items():
        lines.append(f"[models.{alias}]")
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items() if k != "adapters"]
        for adapter in entry.get("adapters", []):
            lines.append(f"[[models.{alias}.adapters]]")
            lines += [f"{k} = {_toml(v)}" for k, v in adapter.items()]
    return "\n".join(lines)


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_an_entry_without_adapters_writes_none() -> None:
    parsed = UserManifest.from_dict({"models": {"m": {"repo": "o/r"}}})
    assert parsed.models["m"].adapters is None
    assert "adapters" not in parsed.to_dict()["models"]["m"]


@pytest.mark.parametrize(
    ("adapter", "problem"),
    [
        ({"repo": "x/y"}, "adapters[0]: Adapter.filename is missing: an adapter in 'x/y' needs"),
        ({"filename": "a.gguf"}, "needs 'repo' and 'filename' (on the hub) or 'path'"),
        ({}, "needs 'repo' and 'filename' (on the hub) or 'path'"),
        ({"path": "rel/a.gguf"}, "adapters[0].path: 'rel/a.gguf' must be an absolute path"),
        ({"path": "/a.gguf", "repo": "x/y"}, "adapters[0]: Adapter.repo belongs to a hub adapter"),
        ({"path": "/a.gguf", "revision": "v1"}, "adapters[0]: Adapter.revision belongs to a hub"),
        ({"repo": "x/y", "filename": "a.bin"}, "adapters[0].filename: 'a.bin' is not a .gguf"),
        ({"repo": "x/y", "filename": "../a.gguf"}, "adapters[0].filename: '../a.gguf' has a"),
        ({"repo": "nope", "filename": "a.gguf"}, "adapters[0].repo: 'nope' must have exactly"),
        ({"path": "/a.gguf", "scale": 99}, "adapters[0].scale: must be between -16 and 16"),
        ({"path": "/a.gguf", "scale": "1"}, "adapters[0].scale: expected a number, got '1'"),
        ({"path": "/a.gguf", "scale": True}, "adapters[0].scale: expected a number"),
        ({"path": "/a.gguf", "sha256": "AB"}, "adapters[0].sha256: must be 64 lowercase hex"),
        ({"path": "/a.gguf", "size": -1}, "adapters[0].size: must be at least 0"),
        ({"path": "/a.gguf", "name": "a b"}, "adapters[0].name: 'a b' must be letters"),
        ({"path": "/a.gguf", "lora": 1}, "adapters[0]: unknown field(s) lora for Adapter"),
        ("acme/r:a.gguf", "adapters[0]: expected an object"),
    ],
)
def test_a_bad_adapter_is_refused_naming_the_field(adapter: object, problem: str) -> None:
    with pytest.raises(ManifestError, match=r"\[models\.m\]\.adapters") as err:
        manifest([adapter])
    assert problem in str(err.value)


def test_adapters_must_be_a_short_list_of_distinct_names() -> None:
    with pytest.raises(ManifestError, match=r"adapters: expected a list, got"):
        manifest(LOCAL)
    many = [{"path": f"/a/{i}.gguf"} for i in range(MAX_ADAPTERS + 1)]
    with pytest.raises(ManifestError, match=f"lists {MAX_ADAPTERS + 1} adapters; at most"):
        manifest(many)
    twice = [LOCAL, {"path": "/elsewhere/tone.gguf"}]
    with pytest.raises(ManifestError, match=r"adapters\[1\]: names the adapter 'tone' twice"):
        manifest(twice)
    renamed = [LOCAL, {"path": "/elsewhere/tone.gguf", "name": "tone-2"}]
    assert [a.label for a in manifest(renamed).models["m"].adapters or ()] == ["tone", "tone-2"]


def test_scale_bounds_come_from_the_limits_table() -> None:
    assert ADAPTER_SCALE.lo is not None
    assert ADAPTER_SCALE.hi is not None
    assert Adapter(path="/a.gguf", scale=ADAPTER_SCALE.hi).scale == ADAPTER_SCALE.hi
    assert Adapter(path="/a.gguf", scale=ADAPTER_SCALE.lo).scale == ADAPTER_SCALE.lo
    with pytest.raises(ManifestError, match=r"Adapter\.scale must be between"):
        Adapter(path="/a.gguf", scale=ADAPTER_SCALE.hi + 1)
    with pytest.raises(ManifestError, match=r"Adapter\.scale must be finite"):
        Adapter(path="/a.gguf", scale=float("nan"))


def test_parse_reads_a_hub_reference_or_an_absolute_path() -> None:
    hub = Adapter.parse("acme/router-lora:router-f16.gguf", scale=0.25)
    assert (hub.repo, hub.filename, hub.path, hub.scale) == (
        "acme/router-lora",
        "router-f16.gguf",
        None,
        0.25,
    )
    assert str(hub) == "acme/router-lora:router-f16.gguf"
    local = Adapter.parse("  /srv/adapters/tone.gguf ")
    assert (local.path, local.repo, local.label) == ("/srv/adapters/tone.gguf", None, "tone")
    assert Adapter.parse(r"C:\adapters\tone.gguf").label == "tone"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "must be a non-empty string"),
        ("acme/router-lora", "neither 'org/repo:file.gguf' nor an absolute path"),
        ("tone.gguf", "neither 'org/repo:file.gguf' nor an absolute path"),
        ("./tone.gguf", "neither 'org/repo:file.gguf' nor an absolute path"),
        ("acme/router-lora:", "names no file after ':'"),
        ("acme/router-lora:a.bin", "Adapter.filename 'a.bin' is not a .gguf file"),
        ("a/b/c:a.gguf", "Adapter.repo 'a/b/c' must have exactly one '/'"),
    ],
)
def test_parse_refuses_what_is_no_adapter_reference(text: str, problem: str) -> None:
    with pytest.raises(ManifestError) as err:
        Adapter.parse(text)
    assert problem in str(err.value)


def test_defaults_cannot_name_adapters() -> None:
    with pytest.raises(ManifestError, match=r"\[defaults\] cannot set adapters"):
        UserManifest.from_dict({"defaults": {"adapters": [LOCAL]}})


def test_a_spec_carries_adapters_and_keeps_its_wire_shape() -> None:
    spec = ModelSpec(name="m", repo="o/r", filename="m.Q4_1.gguf", quantization="Q4_1")
    assert spec.adapters == ()
    with_adapters = ModelSpec(
        name="m",
        repo="o/r",
        filename="m.Q4_1.gguf",
        quantization="Q4_1",
        adapters=[Adapter(**HUB)],  # type: ignore[arg-type]  # a list is accepted
    )
    assert with_adapters.adapters == (Adapter(**HUB),)
    plain = converter.unstructure(with_adapters)
    assert plain["adapters"] == [HUB]
    assert converter.structure(plain, ModelSpec) == with_adapters
    with pytest.raises(ManifestError, match=r"ModelSpec\.adapters must be a list of adapters"):
        ModelSpec(
            name="m",
            repo="o/r",
            filename="m.Q4_1.gguf",
            quantization="Q4_1",
            adapters=("x",),  # type: ignore[arg-type]  # what a caller might pass by mistake
        )


def test_an_adapter_file_names_a_verified_absolute_path() -> None:
    file = AdapterFile(name="tone", path=Path("/srv/tone.gguf"), scale=0.5)
    assert (file.name, file.scale) == ("tone", 0.5)
    assert AdapterFile(name="tone", path=Path("/srv/tone.gguf")).scale == 1.0
    with pytest.raises(ManifestError, match=r"AdapterFile\.path must be an absolute path"):
        AdapterFile(name="tone", path=Path("tone.gguf"))
    with pytest.raises(ManifestError, match=r"AdapterFile\.name must be a non-empty string"):
        AdapterFile(name="", path=Path("/srv/tone.gguf"))
    with pytest.raises(ManifestError, match=r"AdapterFile\.scale must be between"):
        AdapterFile(name="tone", path=Path("/srv/tone.gguf"), scale=-20.0)


def test_an_adapter_set_key_is_files_and_scales_in_order_without_zero_scales() -> None:
    a = AdapterFile(name="a", path=Path("/a.gguf"), scale=1.0)
    b = AdapterFile(name="b", path=Path("/b.gguf"), scale=0.5)
    off = AdapterFile(name="a", path=Path("/a.gguf"), scale=0.0)
    assert adapter_set_key(()) == ()
    assert adapter_set_key((off,)) == ()
    assert adapter_set_key((a, b)) == (("/a.gguf", 1.0), ("/b.gguf", 0.5))
    assert adapter_set_key((a, b)) != adapter_set_key((b, a))
    assert adapter_set_key((a,)) != adapter_set_key((AdapterFile(name="a", path=a.path, scale=2),))
    assert adapter_set_key((a, off)) == adapter_set_key((a,))
