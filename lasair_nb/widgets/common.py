"""What the widgets share: errors in plain words, and work in the background.

A widget never shows a traceback: a :class:`~lasair_nb.errors.LasairError` already says
what was wrong and what is accepted; anything else is reported by its type and message
(and logged), so a bug is visible without dumping library internals on the page.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from lasair_nb.errors import LasairError

log = logging.getLogger(__name__)


def describe_error(error: BaseException) -> str:
    """One line for a person: what went wrong (no traceback)."""
    if isinstance(error, LasairError):
        return str(error)
    log.error("unexpected error in a widget", exc_info=error)
    return f"unexpected error ({type(error).__name__}): {error}"


class Notice(widgets.HTML):
    """A line under a widget for errors and news, in plain words."""

    def error(self, error: BaseException | str) -> None:
        """Show an error (a LasairError's message, or a described exception)."""
        text = error if isinstance(error, str) else describe_error(error)
        self.value = f'<span style="color:#b00020">&#9888; {html.escape(text)}</span>'

    def info(self, text: str) -> None:
        """Show a neutral message."""
        self.value = f'<span style="color:#444">{html.escape(text)}</span>'

    def clear(self) -> None:
        """Show nothing."""
        self.value = ""


def in_background(
    work: Callable[[], Any],
    done: Callable[[Any], None],
    failed: Callable[[BaseException], None],
) -> threading.Thread:
    """Run ``work`` on a thread; then ``done(result)`` or ``failed(error)`` on that thread.

    ipywidgets sends trait changes from any thread, so the callbacks may update widgets.
    """

    def run() -> None:
        try:
            result = work()
        except Exception as error:  # noqa: BLE001 - every failure is shown, not raised
            failed(error)
        else:
            done(result)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
