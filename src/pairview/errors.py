"""The root of every exception that Pairview raises on purpose."""


class PairviewError(Exception):
    """Base class for Pairview's own errors.

    The message is meant for the person at the terminal: it names the
    operation, the value and what was expected.
    """


class ConfigError(PairviewError):
    """A setting, flag or configuration file holds an invalid value."""
