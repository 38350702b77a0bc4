"""The one exception type the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """Bad input from the user (a path, a file's contents, an option): the message names the thing."""
