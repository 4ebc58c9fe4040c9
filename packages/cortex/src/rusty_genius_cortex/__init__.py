"""rusty-genius engines: the Pinky stub, the llama.cpp engine and the streaming think parser."""

__all__: list[str] = []
