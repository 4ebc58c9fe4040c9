"""This process's resident memory, for tests that check what a load costs (Linux only)."""

from __future__ import annotations

__all__ = ["resident"]


def resident() -> int:
    """This process's resident memory (``VmRSS``), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")
