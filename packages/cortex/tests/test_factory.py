"""create_engine / available_backends, and that the stub path never imports llama_cpp."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from typing import Any

import pytest

from rusty_genius_core import ConfigError, EngineError
from rusty_genius_cortex import (
    REAL_ENGINE_HINT,
    Engine,
    LlamaEngine,
    PinkyEngine,
    available_backends,
    create_engine,
)


@pytest.fixture
def without_llama(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend llama-cpp-python is not installed."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "llama_cpp" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_pinky_on_request() -> None:
    engine = create_engine("pinky", token_delay=0.5)
    assert isinstance(engine, PinkyEngine)
    assert isinstance(engine, Engine)
    assert "pinky" in available_backends()


@pytest.mark.usefixtures("without_llama")
def test_auto_falls_back_to_pinky_without_llama_cpp() -> None:
    assert available_backends() == ("pinky",)
    assert isinstance(create_engine(), PinkyEngine)
    with pytest.raises(EngineError, match=re.escape(REAL_ENGINE_HINT)):
        create_engine("llama")


def test_auto_picks_llama_when_installed() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        assert isinstance(create_engine("auto"), PinkyEngine)
        return
    assert available_backends() == ("llama", "pinky")
    engine = create_engine("auto", default_context_size=1024)
    assert isinstance(engine, LlamaEngine)
    assert isinstance(engine, Engine)
    assert engine.backend == "llama"
    assert engine.needs_weights
    assert not engine.is_loaded


def test_bad_backend_and_options() -> None:
    with pytest.raises(ConfigError, match="unknown engine backend 'gpu'"):
        create_engine("gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="invalid option for the pinky engine"):
        create_engine("pinky", n_batch=4)
    with pytest.raises(ConfigError, match="delays must be >= 0"):
        create_engine("pinky", load_delay=-1.0)


def test_nothing_imports_llama_cpp_until_a_model_loads() -> None:
    code = (
        "import sys, rusty_genius_cortex as c\n"
        "c.create_engine('auto'); c.create_engine('pinky'); c.LlamaEngine()\n"
        "assert 'llama_cpp' not in sys.modules, 'llama_cpp was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
