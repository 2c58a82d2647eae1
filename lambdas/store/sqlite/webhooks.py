"""Webhook subscriptions and the delivery log on SQLite (the local twin of the Webhooks table)."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from ...webhooks.ports import Attempt, Delivery, DeliveryStatus, Subscription
from ..ports import AlreadyExists, StoreError

if TYPE_CHECKING:
    from .database import SqliteDatabase

WEBHOOKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    item TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    status_code INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    next_attempt_at REAL,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (status, next_attempt_at);
"""

_COLUMNS = "item, attempts, status, status_code, last_error, next_attempt_at, updated_at"


def _tables(db: SqliteDatabase) -> None:
    db.connection().executescript(WEBHOOKS_SCHEMA)


class SqliteSubscriptionStore:
    """SubscriptionStore on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        _tables(db)

    def add(self, subscription: Subscription) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO webhook_subscriptions (id, item) VALUES (?, ?)",
                    (subscription.id, json.dumps(subscription.to_item())),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(f"webhook {subscription.id} exists already") from exc

    def get(self, subscription_id: str) -> Subscription | None:
        row = (
            self._db.connection()
            .execute("SELECT item FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
            .fetchone()
        )
        return Subscription.from_item(json.loads(row[0])) if row else None

    def list(self) -> list[Subscription]:
        rows = self._db.connection().execute("SELECT item FROM webhook_subscriptions ORDER BY id")
        return [Subscription.from_item(json.loads(r[0])) for r in rows.fetchall()]

    def remove(self, subscription_id: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM webhook_subscriptions WHERE id = ?", (subscription_id,))
        return cur.rowcount > 0


def _delivery(row: tuple[Any, ...]) -> Delivery:
    item, attempts, status, status_code, last_error, next_at, updated_at = row
    return Delivery(
        **json.loads(item),
        attempts=int(attempts),
        status=status,
        status_code=status_code,
        last_error=last_error,
        next_attempt_at=next_at,
        updated_at=float(updated_at),
    )


class SqliteDeliveryLog:
    """DeliveryLog on SQLite; ``due`` lets the local worker find the attempts that are due."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        _tables(db)

    def create(self, delivery: Delivery) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO webhook_deliveries (id, item, attempts, status, "
                "status_code, last_error, next_attempt_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.id,
                    json.dumps(delivery.immutable),
                    delivery.attempts,
                    str(delivery.status),
                    delivery.status_code,
                    delivery.last_error,
                    delivery.next_attempt_at,
                    delivery.updated_at or delivery.created_at,
                ),
            )
        return cur.rowcount > 0

    def get(self, delivery_id: str) -> Delivery | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE id = ?", (delivery_id,))
            .fetchone()
        )
        return _delivery(row) if row else None

    def record_attempt(self, delivery_id: str, attempt: Attempt) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE webhook_deliveries SET attempts = ?, status = ?, status_code = ?, "
                "last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (
                    attempt.attempts,
                    attempt.status,
                    attempt.status_code,
                    attempt.error,
                    attempt.next_attempt_at,
                    attempt.at,
                    delivery_id,
                ),
            )
        if cur.rowcount == 0:
            raise StoreError(f"no webhook delivery {delivery_id}")

    def recent(self, limit: int = 20) -> list[Delivery]:
        rows = self._db.connection().execute(
            f"SELECT {_COLUMNS} FROM webhook_deliveries ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_delivery(r) for r in rows.fetchall()]

    def due(self, now: float, limit: int = 50) -> list[Delivery]:
        """Pending deliveries whose next attempt is due by ``now``, oldest first."""
        rows = self._db.connection().execute(
            f"SELECT {_COLUMNS} FROM webhook_deliveries WHERE status = ? "
            "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (str(DeliveryStatus.PENDING), now, limit),
        )
        return [_delivery(r) for r in rows.fetchall()]
