"""rusty-genius orchestrator: the actor loop that routes requests to assets and engines."""

__all__: list[str] = []
