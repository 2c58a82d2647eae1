"""Webhook subscriptions to the relay's outbound events: signed POSTs, retried with backoff,
every attempt in a delivery log. The same core runs in the serve process (from the SQLite
outbox) and in the deliverer Lambda (from the EventBridge bus)."""
