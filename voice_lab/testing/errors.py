"""The harness's own error: raised when it cannot do what a test asked."""


class HarnessError(RuntimeError):
    """The harness cannot do what was asked; the message says how to fix it."""
