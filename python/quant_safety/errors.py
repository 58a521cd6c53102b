"""User-facing errors: one line naming the file, the line (where known) and the problem."""


class QSafetyError(Exception):
    """An error shown to the user as one line, without a traceback."""


class InputError(QSafetyError):
    """The raw inputs do not match the source manifest or the contract."""


class GateError(QSafetyError):
    """The data-quality gate (Great Expectations) failed."""


class BuildError(QSafetyError):
    """dbt failed to build or test the warehouse."""
