"""Errors that mean "the input is wrong" rather than "the code is wrong".

Every message names the problem and the fix; the ``recft`` command prints
them without a traceback.
"""


class RecftError(Exception):
    """Base class: a problem the user can fix, with a message saying how."""


class ParameterError(RecftError, ValueError):
    """An unknown or ill-typed parameter (profile, dataset, window, ...)."""


class DatasetError(RecftError):
    """A dataset that is missing, truncated, corrupt or malformed."""


class MissingArtefactError(RecftError, FileNotFoundError):
    """A step's input that an earlier step should have written."""


def run_action(action, *args) -> int:
    """Run a command-line action: its exit code, or ``error: <message>`` and 2 for a :class:`RecftError`.

    The one error handler of recft's commands (``recft``, ``python -m recft_utils.benchmark``, the bundle):
    a problem the user can fix is a message, never a traceback.
    """
    import sys

    try:
        return action(*args) or 0
    except RecftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
