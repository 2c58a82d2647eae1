"""DynamoDB tables: on demand, point-in-time recovery, encrypted with the AWS-managed key."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

_S = dynamodb.AttributeType.STRING
# The item-level actions the adapters in lambdas/store/dynamo call. Transactions need no action
# of their own: each Put/Update/Delete inside TransactWriteItems is authorized as PutItem,
# UpdateItem or DeleteItem (and a ConditionCheck as ConditionCheckItem).
ITEM_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "ConditionCheckItem",
    }
)

# The WriteBack table's indexes (the adapter's OPEN_INDEX and STATUS_INDEX).
WRITEBACK_OPEN_INDEX = "open"
WRITEBACK_STATUS_INDEX = "by_status"

PARTIQL = frozenset({"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"})


def grant(
    grantee: iam.IGrantable,
    table: dynamodb.Table,
    actions: Sequence[str],
    *,
    index: str | None = None,
    leading_keys: Sequence[str] = (),
) -> None:
    """Allow exactly ``actions`` (e.g. ``["GetItem", "UpdateItem"]``) on ``table``.

    ``index`` allows them on that one GSI instead (a Query names the index's ARN). With
    ``leading_keys`` (``StringLike`` patterns), only items whose partition key matches one of
    them: ``dynamodb:LeadingKeys`` holds every partition key a request touches.
    """
    unknown = set(actions) - ITEM_ACTIONS
    if unknown or not actions:
        raise ValueError(f"not item-level DynamoDB actions: {sorted(unknown) or actions}")
    resource = f"{table.table_arn}/index/{index}" if index else table.table_arn
    conditions = (
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(leading_keys)}}
        if leading_keys
        else None
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=[f"dynamodb:{a}" for a in sorted(actions)],
        resource_arns=[resource],
        conditions=conditions,
    )


def deny_leading_keys(grantee: iam.IGrantable, table: dynamodb.Table, patterns: Sequence[str]):
    """Deny every item action on ``table``'s items whose partition key matches ``patterns``.

    An explicit Deny wins over any Allow, whatever grant is added later. It binds the actions
    that name partition keys (get, batch get, put, update, delete, batch write, condition
    check, Query, PartiQL); a Scan names none, so the grantee must never be allowed Scan.
    """
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY,
            actions=[f"dynamodb:{a}" for a in sorted(ITEM_ACTIONS - {"Scan"} | PARTIQL)],
            resources=[table.table_arn],
            conditions={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": list(patterns)}},
        )
    )


def grant_writeback(grantee: iam.IGrantable, table: dynamodb.Table) -> None:
    """What the change capture and the writers call on the WriteBack table: get, enqueue (a
    put and the record head's update, in one transaction), supersede, mark and cursors
    (updates), the open operations (Query on ``open``, then a consistent BatchGetItem)."""
    grant(grantee, table, ["GetItem", "BatchGetItem", "PutItem", "UpdateItem"])
    grant(grantee, table, ["Query"], index=WRITEBACK_OPEN_INDEX)


def grant_writeback_status(grantee: iam.IGrantable, table: dynamodb.Table) -> None:
    """What status views call on the WriteBack table: get, lists and counts (``by_status``)."""
    grant(grantee, table, ["GetItem"])
    grant(grantee, table, ["Query"], index=WRITEBACK_STATUS_INDEX)


class Tables(Construct):
    """The relay's seven tables, every one keyed by a string ``pk``."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self._retain = retain
        self.tenants = self._table("Tenants")
        self.sessions = self._table("Sessions", ttl="expires_at")
        # Sync state and re-read requests (relay), the ZOHO token cache, pauses and mapping
        # overrides (ZOHO callers only: the relay is denied ``@zoho-*`` keys).
        self.state = self._table("State")
        self.mappings = self._table("Mappings")
        self.mappings.add_global_secondary_index(
            index_name="by_zoho", partition_key=dynamodb.Attribute(name="zoho_key", type=_S)
        )
        self.mappings.add_global_secondary_index(
            index_name="by_status",
            partition_key=dynamodb.Attribute(name="tenant_status", type=_S),
            sort_key=dynamodb.Attribute(name="pk", type=_S),
        )
        # Every mapping of one tenant, in key order (the audit reads them all). CloudFormation
        # adds one GSI per stack update: a later index needs a deploy of its own.
        self.mappings.add_global_secondary_index(
            index_name="by_tenant",
            partition_key=dynamodb.Attribute(name="tenant", type=_S),
            sort_key=dynamodb.Attribute(name="pk", type=_S),
        )
        # One row per session and per forwarder batch: pk = tenant, sk orders the rows.
        self.runs = self._table("Runs", sort_key="sk")
        # Webhook subscriptions (pk "sub") and the delivery log (pk "delivery", expiring).
        self.webhooks = self._table("Webhooks", ttl="expires_at", sort_key="sk")
        # Write-back operations, record heads and capture cursors: pk = tenant, sk = kind#id
        # (lambdas/store/dynamo/writeback.py). Final operations expire (``expires_at``).
        self.writeback = self._table("WriteBack", ttl="expires_at", sort_key="sk")
        # The open operations in seq order: sparse (``open_seq`` only while open), keys only
        # (the writer re-reads them consistently).
        self.writeback.add_global_secondary_index(
            index_name=WRITEBACK_OPEN_INDEX,
            partition_key=dynamodb.Attribute(name="pk", type=_S),
            sort_key=dynamodb.Attribute(name="open_seq", type=_S),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # A tenant's operations of one status, newest first (status views).
        self.writeback.add_global_secondary_index(
            index_name=WRITEBACK_STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="status_key", type=_S),
            sort_key=dynamodb.Attribute(name="seq_key", type=_S),
        )

    def _table(self, name: str, *, ttl: str | None = None, sort_key: str | None = None):
        return dynamodb.Table(
            self,
            name,
            partition_key=dynamodb.Attribute(name="pk", type=_S),
            sort_key=dynamodb.Attribute(name=sort_key, type=_S) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl,
            deletion_protection=self._retain,
            removal_policy=RemovalPolicy.RETAIN if self._retain else RemovalPolicy.DESTROY,
        )
