"""Typed errors. Library code raises these with a message that says what to do next;
the CLI prints the message as one line on stderr and exits non-zero (``--debug`` shows
the traceback)."""


class HarnessError(Exception):
    """Base class for every error the CLI reports as a one-line message."""

    exit_code = 1


class GameFileError(HarnessError, ValueError):
    """A game file is missing, unreadable or malformed."""


class DataDirError(HarnessError):
    """ALFWORLD_DATA is unset, or does not hold the expected layout."""


class SuiteError(HarnessError, ValueError):
    """A scenario suite is unknown or its YAML is invalid."""


class UsageError(HarnessError, ValueError):
    """A bad command-line value that click itself could not catch."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C (the CLI exits 143 instead of 130)."""
