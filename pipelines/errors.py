"""User-facing errors: the CLI prints them as one line and exits non-zero (no traceback)."""


class UserError(Exception):
    """A mistake the user can fix (bad path, bad config key, missing secret...)."""

    exit_code = 2
