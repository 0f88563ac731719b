"""The error types shared across the package (one-line messages)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit its model."""


class DeployError(ValueError):
    """Bad input to an export or a runtime: a one-line explanation."""


class UnreadableVideoError(RuntimeError, DeployError):
    """A video file that cannot be opened or decoded; the message names it.

    A RuntimeError for the data pipeline and its loops, a DeployError for
    the deployment tools (its old name there: ``VideoReadError``).
    """

    def __init__(self, path: str, reason: str):
        super().__init__(f'cannot read video {path}: {reason}')
        self.path = path
        self.reason = reason
