"""The one exception type a user ever sees."""


class PruneError(Exception):
    """Bad input or a missing/damaged artifact.

    The CLI prints ``str(err)`` as one line on stderr and exits non-zero;
    the message must say what is wrong and, where there is one, what to do.
    """
