"""The one exception type a user ever sees."""


class PruneError(Exception):
    """Bad input or a missing/damaged artifact.

    The CLI prints ``str(err)`` as one line on stderr and exits non-zero;
    the message must say what is wrong and, where there is one, what to do.
    """


class WriteFailed(PruneError):
    """A write the user can mend (no space, read-only, permissions, something in the way): one line naming the
    path. A stage that holds resumable work keeps it when one of these stops it (a disk that fills mid-run)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, with what the stage kept (an unfinished folder) and how to go on.

    A ``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` cleanup
    runs for SIGTERM exactly as for Ctrl-C.
    """

    def __init__(self, signal_name: str = "SIGINT", kept=None, hint: str | None = None):
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.kept = kept
        self.hint = hint

    def with_kept(self, kept, hint: str | None) -> "Interrupted":
        return Interrupted(self.signal_name, kept, hint)

    @classmethod
    def of(cls, err: KeyboardInterrupt) -> "Interrupted":
        return err if isinstance(err, Interrupted) else cls("SIGINT")

    @property
    def exit_code(self) -> int:
        return 143 if self.signal_name == "SIGTERM" else 130  # 128 + the signal number, as shells report it

    def line(self) -> str:
        what = "terminated (SIGTERM)" if self.signal_name == "SIGTERM" else "interrupted"
        if self.kept is None:
            return f"{what}; nothing was left half-written"
        return f"{what}; the unfinished result is kept in {self.kept}" + (f": {self.hint}" if self.hint else "")
