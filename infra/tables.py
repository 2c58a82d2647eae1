"""DynamoDB tables: on demand, point-in-time recovery, encrypted with the AWS-managed key."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

_S = dynamodb.AttributeType.STRING


class Tables(Construct):
    """The relay's five tables, every one keyed by a string ``pk``."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self._retain = retain
        self.tenants = self._table("Tenants")
        self.sessions = self._table("Sessions", ttl="expires_at")
        # Sync watermarks, ZOHO token leases, deployment settings.
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
