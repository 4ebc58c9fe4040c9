from rusty_genius_testhub.pytest_plugin import hub, hub_thread, smollm2_gguf, smollm2_repo

__all__ = ["hub", "hub_thread", "smollm2_gguf", "smollm2_repo"]
