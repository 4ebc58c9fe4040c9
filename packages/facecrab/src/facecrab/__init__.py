"""rusty-genius asset authority: model registry, Hugging Face resolution, resumable verified GGUF downloads."""

__all__: list[str] = []
