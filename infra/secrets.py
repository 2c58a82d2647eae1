"""Secrets Manager access by name prefix.

The stack creates no secret: the per-tenant ZOHO credentials are created at run time by the CLI
as ``<prefix>zoho/<tenant>``, and access tokens are cached in the state table, so functions only
ever read secrets. (An app-level secret would hold nothing the tenants' secrets do not.)
"""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import nag


class SecretsAccess(Construct):
    """Read grants on every secret whose name starts with the environment's prefix."""

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.arn_pattern = self._pattern(prefix)

    @staticmethod
    def _pattern(prefix: str) -> str:
        # Secrets Manager appends "-" and six random characters to every secret's ARN.
        # Pseudo parameters (not the stack's account/region) keep the pattern the same in
        # every template, and so the cdk-nag finding it raises.
        return Fn.join(
            ":",
            [
                "arn",
                Aws.PARTITION,
                "secretsmanager",
                Aws.REGION,
                Aws.ACCOUNT_ID,
                f"secret:{prefix}*",
            ],
        )

    def grant_read_under(self, grantee: iam.IGrantable, folder: str) -> iam.Grant:
        """Let ``grantee`` read the secrets under ``<prefix><folder>/`` only (e.g. the webhook
        signing secrets, never the tenants' ZOHO credentials)."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resource_arns=[self._pattern(f"{self.prefix}{folder}/")],
        )
        if isinstance(grantee.grant_principal, Construct):
            nag.acknowledge(
                grantee.grant_principal,
                "IAM5",
                f"The {folder}/<id> secrets are created at run time by the CLI, so the grant "
                f"covers that folder of the environment's prefix; read-only, nothing else.",
                finding="Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                f"<AWS::AccountId>:secret:{self.prefix}{folder}/*",
            )
        return grant

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read (never write or list) the environment's secrets."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            resource_arns=[self.arn_pattern],
        )
        if isinstance(grantee.grant_principal, Construct):
            nag.acknowledge(
                grantee.grant_principal,
                "IAM5",
                "Per-tenant secrets (<prefix>zoho/<tenant>) are created at run time by the CLI, "
                "so the grant covers the environment's prefix; read-only, no other prefix.",
                finding="Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
                f"<AWS::AccountId>:secret:{self.prefix}*",
            )
        return grant
