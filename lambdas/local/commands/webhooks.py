"""``qbrelay webhooks add|list|remove|deliveries|test``: subscribers of the relay's events.

A subscription is a URL, the event types it wants (``--events session.completed,failure.parked``
or ``*``) and optionally one tenant. ``add`` prints the subscription's signing secret once: the
receiver verifies every delivery with it (docs/webhooks.md). The secret is an HMAC key, so it is
kept in the secret store (the data dir's secrets file, or Secrets Manager with ``--aws``), never
in the subscriptions table. ``test`` sends one ``webhook.test`` event now, from this machine,
and records it in the delivery log like any other delivery.

Locally ``qbrelay serve`` delivers; on AWS the deliverer function does, and only to public
https addresses (the same rule applies to ``add`` and ``test`` with ``--aws``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...model.events import EVENT_TYPES
from ...store.ports import SecretStore
from ...webhooks.admin import SubscriptionError, add_subscription, remove_subscription, send_test
from ...webhooks.delivery import Deliverer
from ...webhooks.http import LOCAL, PUBLIC_ONLY, UrlPolicy
from ...webhooks.ports import DeliveryLog, DeliveryStatus, SubscriptionStore
from .. import targets
from ..targets import add_target_args, aws_env, explain_aws_errors, table_name
from .common import data_dir


@dataclass(slots=True)
class WebhookTarget:
    """The stores a webhooks command works on, and the URL policy of that deployment."""

    subscriptions: SubscriptionStore
    deliveries: DeliveryLog
    secrets: SecretStore
    policy: UrlPolicy


def webhook_target(args: argparse.Namespace) -> WebhookTarget:
    """The local data directory's stores, or the deployment's with ``--aws --env``."""
    if args.aws:
        if args.data_dir:
            raise targets.TargetError("give either --aws or --data-dir, not both")
        from ...store.dynamo import SecretsManagerSecretStore
        from ...store.dynamo.webhooks import DynamoDeliveryLog, DynamoSubscriptionStore

        env, region = aws_env(args), args.region
        ddb = targets.aws_client("dynamodb", region)
        table = table_name("WebhooksTable", env, region)
        prefix = os.environ.get("QBRELAY_SECRETS_PREFIX") or _stack_output(
            "SecretsPrefix", env, region
        )
        return WebhookTarget(
            DynamoSubscriptionStore(ddb, table),
            DynamoDeliveryLog(ddb, table),
            SecretsManagerSecretStore(targets.aws_client("secretsmanager", region), prefix),
            PUBLIC_ONLY,
        )
    from ...store.files import FileSecretStore
    from ...store.sqlite import SqliteDatabase
    from ...store.sqlite.webhooks import SqliteDeliveryLog, SqliteSubscriptionStore

    directory = data_dir(args.data_dir)
    db = SqliteDatabase.in_dir(directory)
    return WebhookTarget(
        SqliteSubscriptionStore(db),
        SqliteDeliveryLog(db),
        FileSecretStore.in_dir(directory),
        LOCAL,
    )


def _stack_output(key: str, env: str, region: str | None) -> str:
    stack = targets.stack_name(env)
    return targets.required_output(targets.stack_outputs(stack, region), key, stack)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@explain_aws_errors
def cmd_add(args: argparse.Namespace) -> int:
    t = webhook_target(args)
    try:
        made = add_subscription(
            t.subscriptions,
            t.secrets,
            args.url,
            args.events.split(","),
            t.policy,
            tenant=args.tenant,
        )
    except SubscriptionError as exc:
        raise SystemExit(f"error: {exc}") from None
    sub = made.subscription
    if args.json:
        print(json.dumps({**sub.to_item(), "signing_secret": made.signing_secret}))
        return 0
    scope = f"tenant {sub.tenant!r}" if sub.tenant else "every tenant"
    print(f"Webhook {sub.id}: {sub.url}")
    print(f"  events: {', '.join(sub.events)} ({scope})")
    print(f"  signing secret: {made.signing_secret}")
    print("This secret is shown once. Give it to the receiver, which checks the")
    print("X-Qbrelay-Signature header of every delivery with it (see docs/webhooks.md).")
    return 0


@explain_aws_errors
def cmd_list(args: argparse.Namespace) -> int:
    subs = webhook_target(args).subscriptions.list()
    if args.json:
        print(json.dumps([s.to_item() for s in subs]))
        return 0
    if not subs:
        print("No webhooks. Add one with: qbrelay webhooks add URL --events TYPE[,TYPE...]")
        return 0
    print(f"{'ID':<20}  {'EVENTS':<36}  {'TENANT':<12}  URL")
    for s in subs:
        print(f"{s.id:<20}  {','.join(s.events):<36}  {s.tenant or '*':<12}  {s.url}")
    return 0


@explain_aws_errors
def cmd_remove(args: argparse.Namespace) -> int:
    t = webhook_target(args)
    if not remove_subscription(t.subscriptions, t.secrets, args.id):
        print(f"error: no webhook {args.id!r}")
        return 1
    print(f"Removed webhook {args.id} and its signing secret.")
    return 0


@explain_aws_errors
def cmd_deliveries(args: argparse.Namespace) -> int:
    log = webhook_target(args).deliveries.recent(args.limit)
    if args.json:
        print(json.dumps([d.to_json() for d in log]))
        return 0
    if not log:
        print("No deliveries yet.")
        return 0
    print(
        f"{'DELIVERY':<52}  {'EVENT':<19}  {'WEBHOOK':<20}  {'STATUS':<9}  {'TRIES':>5}  "
        f"{'HTTP':>4}  NEXT ATTEMPT / ERROR"
    )
    for d in log:
        code = str(d.status_code) if d.status_code is not None else "-"
        tail = _when(d.next_attempt_at) if d.status == DeliveryStatus.PENDING else d.last_error
        print(
            f"{d.id:<52}  {d.event_type:<19}  {d.subscription_id:<20}  {d.status:<9}  "
            f"{d.attempts:>5}  {code:>4}  {tail}"
        )
    return 0


@explain_aws_errors
def cmd_test(args: argparse.Namespace) -> int:
    t = webhook_target(args)
    sub = t.subscriptions.get(args.id)
    if sub is None:
        print(f"error: no webhook {args.id!r}")
        return 1
    deliverer = Deliverer(t.subscriptions, t.deliveries, t.secrets, t.policy, clock=time.time)
    d = send_test(deliverer, sub)
    if args.json:
        print(json.dumps(d.to_json()))
    elif d.status == DeliveryStatus.DELIVERED:
        print(f"Delivered {d.id} to {sub.url}: HTTP {d.status_code}.")
    else:
        code = f"HTTP {d.status_code}" if d.status_code is not None else "no answer"
        print(f"Not delivered to {sub.url} ({code}): {d.last_error}")
    return 0 if d.status == DeliveryStatus.DELIVERED else 1


def register(sub: Any) -> None:
    """Add ``webhooks``."""
    hooks = sub.add_parser("webhooks", help="subscribers of the relay's events (signed webhooks)")
    cmds = hooks.add_subparsers(dest="webhooks_command", required=True)

    add = cmds.add_parser("add", help="register a URL; prints its signing secret once")
    add.add_argument("url")
    add.add_argument(
        "--events",
        required=True,
        help=f"comma-separated event types, or * for all: {', '.join(EVENT_TYPES)}",
    )
    add.add_argument("--tenant", help="only this tenant's events (default: every tenant's)")
    add.set_defaults(func=cmd_add)

    listing = cmds.add_parser("list", help="the registered webhooks")
    listing.set_defaults(func=cmd_list)

    remove = cmds.add_parser("remove", help="delete a webhook and its signing secret")
    remove.add_argument("id")
    remove.set_defaults(func=cmd_remove)

    deliveries = cmds.add_parser("deliveries", help="the delivery log, newest first")
    deliveries.add_argument("--limit", type=int, default=20)
    deliveries.set_defaults(func=cmd_deliveries)

    test = cmds.add_parser("test", help="send a webhook.test event now (one attempt)")
    test.add_argument("id")
    test.set_defaults(func=cmd_test)

    for p in (add, listing, remove, deliveries, test):
        p.add_argument("--json", action="store_true")
        add_target_args(p)
