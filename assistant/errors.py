"""Errors a user can cause, reported as one clear line instead of a traceback."""

from __future__ import annotations


class AssistantError(Exception):
    """A problem the user can fix (bad input file, missing model package, ...).

    The CLI prints ``str(error)`` and exits non-zero; the server sends it as an
    ``error`` event. Anything else that escapes is a bug and keeps its traceback.
    """


class ModelError(AssistantError):
    """A model file is missing, damaged or cannot be assembled."""


class AudioInputError(AssistantError):
    """An audio file or stream cannot be used as input."""
