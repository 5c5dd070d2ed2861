"""The one base class for errors a user can cause and fix (a bad setting, a missing model or index,
an unreachable server, an empty question). The CLI prints them as one line, `rag: error: …`, and
exits with status 1; the chat shows them as a message. Anything else is a bug and is logged."""


class RagError(Exception):
    """An error whose message tells the user what went wrong and what to do; never a traceback."""
