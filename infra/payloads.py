"""The claim-check bucket: records too large for one SQS message, stored by the relay.

The relay writes ``records/<key>`` and sends only the key; the forwarder reads the object back
(``lambdas/store/payloads.py``, ``S3PayloadStore``). Objects expire with the record queue's
retention, so nothing on the hot path deletes, and neither function may delete or list.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import nag
from .queues import RETENTION

# S3PayloadStore's default prefix: every object key starts with it.
PREFIX = "records/"


class PayloadBucket(Construct):
    """S3 bucket for claim-checked records: SSE-S3, TLS only, private, 14-day expiry."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            # S3PayloadStore asks for AES256 on every put; the default covers any other writer.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireWithTheRecordQueue",
                    # S3 rounds up to the next midnight UTC, so an object outlives the message
                    # sent after it was written.
                    expiration=RETENTION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Without auto-delete (a custom-resource Lambda): deleting a dev stack whose bucket
            # still holds objects needs the bucket emptied first (docs/deployment.md).
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        nag.acknowledge(
            self.bucket,
            "S1",
            "Transient claim checks only: objects expire after 14 days, only the relay's role "
            "may put and only the forwarder's may get (no list, no delete), public access is "
            "blocked and TLS enforced; an access-log bucket would log just those two roles.",
        )

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket_name

    def grant_put(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` write claim checks (s3:PutObject under the prefix, nothing else)."""
        return self._grant(grantee, "s3:PutObject", "writes")

    def grant_get(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read claim checks (s3:GetObject under the prefix, nothing else)."""
        return self._grant(grantee, "s3:GetObject", "reads")

    def _grant(self, grantee: iam.IGrantable, action: str, verb: str) -> iam.Grant:
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[action],
            resource_arns=[self.bucket.arn_for_objects(f"{PREFIX}*")],
        )
        if isinstance(grantee.grant_principal, Construct):
            stack = Stack.of(self)
            bucket = stack.resolve(stack.get_logical_id(self.bucket.node.default_child))
            nag.acknowledge(
                grantee.grant_principal,
                "IAM5",
                f"Claim-check object keys are derived from each record at run time: the role "
                f"{verb} objects under {PREFIX} of this one bucket, with this one action.",
                finding=f"Resource::<{bucket}.Arn>/{PREFIX}*",
            )
        return grant
