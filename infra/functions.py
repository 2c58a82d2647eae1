"""Lambda functions: one shared code asset, one spec per function, each with its own role and logs.

Adding a function is one ``FunctionSpec`` and one ``Functions.add`` call; it gets the runtime,
architecture, tracing, the shared environment and a log group with the environment's retention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import nag
from .logs import retention

# The project's runtime (see docs/development.md: supported to 2029 on Amazon Linux 2023).
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What differs between functions."""

    name: str
    handler: str
    description: str
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


class Functions(Construct):
    """The stack's functions, built alike from specs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: Callable[[], lambda_.Code],
        environment: Mapping[str, str],
        log_retention_days: int,
        retain_logs: bool,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._code = code
        self._environment = dict(environment)
        self._retention = retention(log_retention_days)
        self._log_removal = RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY
        self._snap_start = snap_start
        self.by_name: dict[str, lambda_.Function] = {}
        # What invokers point at: the ``live`` alias under SnapStart (SnapStart applies to
        # published versions only), otherwise the function itself.
        self.entry: dict[str, lambda_.IFunction] = {}
        nag.acknowledge(
            self,
            "L1",
            "python3.13 is the project's runtime (supported to 2029): spyne 2.14.0, the last "
            "release, is shimmed and tested on 3.13 but not on 3.14.",
        )
        nag.acknowledge(
            self,
            "IAM5",
            "Active tracing: X-Ray's PutTraceSegments and PutTelemetryRecords have no "
            "resource-level permissions, so their resource is *.",
            finding="Resource::*",
        )

    def add(self, spec: FunctionSpec) -> lambda_.Function:
        """Create the function of ``spec``; its role may only write its own log group."""
        scope = Construct(self, spec.name)
        log_group = logs.LogGroup(
            scope, "Logs", retention=self._retention, removal_policy=self._log_removal
        )
        # An explicit role instead of AWSLambdaBasicExecutionRole (which allows every log group).
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.name}: its own logs, traces, and what the stack grants",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            scope,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code(),
            handler=spec.handler,
            description=spec.description,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment={**self._environment, **spec.environment},
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if self._snap_start else None,
        )
        self.by_name[spec.name] = function
        self.entry[spec.name] = (
            lambda_.Alias(scope, "Live", alias_name="live", version=function.current_version)
            if self._snap_start
            else function
        )
        return function

    def invoked(self, function: lambda_.Function) -> lambda_.IFunction:
        """What API Gateway should invoke for ``function``: its ``live`` alias under SnapStart."""
        return next(self.entry[name] for name, f in self.by_name.items() if f is function)
