"""Where benchmarks report: print the section and append it to ``bench/RESULTS.md``."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def report(lines: list[str], record: bool = True) -> None:
    """Print a results section; append it to RESULTS.md unless ``record`` is False."""
    text = "\n".join(lines)
    print(text)
    if record:
        with RESULTS.open("a") as handle:
            handle.write(text + "\n")
