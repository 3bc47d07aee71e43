"""The one exception type a user sees: what was wrong and how to fix it, on one line."""


class AttnclfError(Exception):
    """A mistake in the user's input or environment. The CLI prints it without a traceback."""
