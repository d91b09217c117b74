"""The small error vocabulary; the CLI shows each as one line."""


class NewsroomError(Exception):
    """Base class: the message is written for the person at the keyboard."""

    exit_code = 1


class ConfigError(NewsroomError):
    """A setting is missing, malformed or contradicts another."""

    exit_code = 2


class StoreLockedError(NewsroomError):
    """Another process holds the embedded store folder."""

    exit_code = 3


class BackendError(NewsroomError):
    """A model, LLM endpoint or vector store failed or cannot be reached."""

    exit_code = 4


class InputError(NewsroomError):
    """A request (question, filter, file) is malformed or over a limit."""

    exit_code = 2
