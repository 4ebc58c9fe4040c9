"""Local-first, async, actor-based orchestration for LLM inference."""

__all__: list[str] = []
