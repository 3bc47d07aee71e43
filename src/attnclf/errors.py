"""The one exception type a user sees: what was wrong and how to fix it, on one line."""


class AttnclfError(Exception):
    """A mistake in the user's input or environment. The CLI prints it without a traceback."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, for one-line errors; its type if it has none."""
    line = (str(error).strip().splitlines() or [""])[0].rstrip(": ")
    return line or type(error).__name__
