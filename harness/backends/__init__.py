"""Model backends behind one interface (``Backend.chat``), registered by name and imported
lazily so ``harness --help`` stays instant. Built-in policies (``expert``, ``random``) register
exactly like model backends."""

from harness.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ChatOptions,
    ChatResult,
    ModelNotFound,
    TransientBackendError,
)
from harness.backends.registry import available_backends, create_backend, register_backend

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "ChatOptions",
    "ChatResult",
    "ModelNotFound",
    "TransientBackendError",
    "available_backends",
    "create_backend",
    "register_backend",
]
