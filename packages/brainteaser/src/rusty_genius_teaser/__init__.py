"""rusty-genius QA: fixture-driven integration harness."""

__all__: list[str] = []
