"""What every Lambda entry point does at start: structured logging and its environment checked."""

from __future__ import annotations

import importlib
import logging
import os
import random
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

# botocore's DEBUG wire log prints every request and response body: DynamoDB session items
# (with Web Connector tickets) and Secrets Manager values (ZOHO client secrets, refresh tokens).
WIRE_LOGGERS = ("botocore", "boto3")


def quiet_wire_loggers() -> None:
    """Keep the AWS SDK's loggers at INFO or above, whatever level the root logger is given."""
    for name in WIRE_LOGGERS:
        wire = logging.getLogger(name)
        if wire.level < logging.INFO:
            wire.setLevel(logging.INFO)


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or malformed."""


def in_lambda() -> bool:
    """True inside the Lambda runtime (not in tests or the local process)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def require_env(names: Iterable[str]) -> None:
    """Raise ConfigurationError naming every variable of ``names`` that is unset or empty."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")


def start(logger: Logger, required: Iterable[str]) -> None:
    """At import in Lambda: fail the init phase on a bad environment (one clear error instead
    of a failure at the first event), and give the core's standard-library log records this
    logger's JSON format, correlation id and keys (``extra={"tenant": ...}``). The AWS SDK's
    wire log stays at INFO even when the function logs at DEBUG (``quiet_wire_loggers``)."""
    quiet_wire_loggers()
    if not in_lambda():
        return
    require_env(required)
    copy_config_to_registered_loggers(source_logger=logger, include={"lambdas", "qbxml"})


# Registers a callable with Lambda SnapStart (snapshot_restore_py's register_* functions).
Register = Callable[[Callable[[], object]], object]


def snapshot_hooks(
    *,
    prime: Iterable[Callable[[], object]] = (),
    forget: Iterable[Any] = (),
    register: tuple[Register, Register] | None = None,
) -> bool:
    """Under SnapStart (infra setting ``snap_start``), register the function's runtime hooks:
    before the snapshot, each of ``prime`` runs (imports and pure tables only, never a client or
    a token), so restored environments start with them loaded; after every restore, each of
    ``forget`` (``functools.cache`` builders holding boto3 clients, connections, lease holders
    or seeded generators) is cleared, so no two restored environments share one, and ``random``
    is re-seeded. ``register`` is (before_snapshot, after_restore), by default the runtime's
    ``snapshot_restore_py``; without it (local runs, tests, no SnapStart) nothing is registered
    and False is returned."""
    if register is None:
        try:
            from snapshot_restore_py import register_after_restore, register_before_snapshot
        except ImportError:
            return False
        register = (register_before_snapshot, register_after_restore)
    before, after = register
    for step in prime:
        before(step)
    builders = tuple(forget)

    def restored() -> None:
        random.seed()
        for builder in builders:
            builder.cache_clear()

    after(restored)
    return True


def importer(*modules: str) -> Callable[[], None]:
    """A ``prime`` step for ``snapshot_hooks``: import ``modules`` (what the first event would)."""

    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    return load
