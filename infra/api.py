"""The REST API in front of the relay: Lambda proxy routes, stage throttling, access logs.

Routes come from the product's router (lambdas/http/routes.py), so a route added there exists
here too. The Web Connector cannot send IAM or token auth:
it authenticates inside the SOAP protocol (``authenticate``), so every method is open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from . import nag
from .logs import retention
from .settings import Settings

F = apigw.AccessLogField
# One JSON line per request; requestId is the Lambda logger's correlation id.
_ACCESS_FIELDS = {
    "requestId": F.context_request_id(),
    "requestTime": F.context_request_time(),
    "ip": F.context_identity_source_ip(),
    "userAgent": F.context_identity_user_agent(),
    "httpMethod": F.context_http_method(),
    "resourcePath": F.context_resource_path(),
    "protocol": F.context_protocol(),
    "status": F.context_status(),
    "responseLength": F.context_response_length(),
    "responseLatency": F.context_response_latency(),
    "integrationStatus": F.context_integration_status(),
    "integrationLatency": F.context_integration_latency(),
}
# messageString comes quoted and escaped by API Gateway, so it is not wrapped in quotes here.
ACCESS_LOG_FORMAT = (
    "{"
    + ",".join(f'"{k}":"{v}"' for k, v in _ACCESS_FIELDS.items())
    + f',"error":{F.context_error_message_string()}'
    + "}"
)


class RelayApi(Construct):
    """A regional REST API with one stage named after the environment."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, retain_logs: bool
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=settings.stack_name,
            description="QuickBooks Web Connector SOAP relay",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=settings.api_cloudwatch_role,
            deploy_options=apigw.StageOptions(
                stage_name=settings.env,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        # The stack's own ApiUrl output replaces the one RestApi adds (and custom domains).
        self.rest_api.node.try_remove_child("Endpoint")
        self.web_acl: wafv2.CfnWebACL | None = None
        if settings.waf_rate_limit is not None:
            self.web_acl = self._web_acl(settings)
        self._integrations: dict[str, apigw.LambdaIntegration] = {}
        self._acknowledge(settings)
        self.domain: apigw.DomainName | None = None
        if settings.domain_name and settings.certificate_arn:
            self.domain = self.rest_api.add_domain_name(
                "Domain",
                domain_name=settings.domain_name,
                certificate=acm.Certificate.from_certificate_arn(
                    self, "Certificate", settings.certificate_arn
                ),
                endpoint_type=apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
            if settings.hosted_zone_id and settings.hosted_zone_name:
                zone = route53.HostedZone.from_hosted_zone_attributes(
                    self,
                    "Zone",
                    hosted_zone_id=settings.hosted_zone_id,
                    zone_name=settings.hosted_zone_name,
                )
                route53.ARecord(
                    self,
                    "Alias",
                    zone=zone,
                    record_name=settings.domain_name,
                    target=route53.RecordTarget.from_alias(
                        route53_targets.ApiGatewayDomain(self.domain)
                    ),
                )
        self.base_url = (
            f"https://{settings.domain_name}/" if self.domain is not None else self.rest_api.url
        )

    def _acknowledge(self, settings: Settings) -> None:
        open_reason = (
            "The QuickBooks Web Connector cannot send IAM, Cognito or token credentials: it "
            "authenticates inside the SOAP protocol (authenticate, scrypt-checked password, then "
            "a ticket per call). /health and /support are public by design."
        )
        nag.acknowledge(self, "APIG4", open_reason)
        nag.acknowledge(self, "COG4", open_reason)
        nag.acknowledge(
            self,
            "APIG2",
            "Bodies are SOAP XML, which API Gateway's JSON-schema models cannot validate; the "
            "relay parses each envelope (size cap, no DOCTYPE) and answers a SOAP Fault.",
        )
        if settings.waf_rate_limit is None:
            nag.acknowledge(
                self,
                "APIG3",
                "waf_rate_limit is unset here: one Web Connector per tenant polls a few times an "
                "hour, stage throttling caps abuse, and a web ACL would cost more than the relay "
                "(prod sets it, and gets the web ACL).",
            )
        if settings.api_cloudwatch_role:
            nag.acknowledge(
                self,
                "IAM4",
                "API Gateway's account-wide logging role uses the AWS-managed policy made for "
                "it; it only allows writing to CloudWatch Logs.",
                finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs",
            )

    def _web_acl(self, settings: Settings) -> wafv2.CfnWebACL:
        """A regional web ACL on the stage: allow, except a source address over the rate."""
        name = f"{settings.stack_name}-api"

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=metric,
                sampled_requests_enabled=True,
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            description="Per-source rate limit in front of the QBWC relay",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(name),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerSourceIp",
                    priority=0,
                    # The address the request came from (not X-Forwarded-For, which a caller
                    # writes itself), counted over a sliding 5 minutes.
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=settings.waf_rate_limit,
                            evaluation_window_sec=300,
                        )
                    ),
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    visibility_config=visibility(f"{name}-rate"),
                )
            ],
        )
        # The stage ARN refers to the stage resource, so the association waits for it.
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl

    def add_routes(self, functions: Mapping[str, lambda_.IFunction]) -> None:
        """Every route of the product's router, each to the function its ``function`` names.

        The router's table is data the runtime and this app share; reading it here is what
        keeps a route from existing locally but not on AWS (or the other way round).
        """
        from lambdas.http.routes import app_router

        for route in app_router().routes:
            if route.function not in functions:
                raise ValueError(f"{route.path}: no function named {route.function!r}")
            self.route(route.path, route.methods, functions[route.function])

    def route(self, path: str, methods: Sequence[str], function: lambda_.IFunction) -> None:
        """Send ``methods`` on ``path`` to ``function`` (Lambda proxy integration)."""
        key = function.node.path
        if key not in self._integrations:
            # No test-invoke permission: the console's test button is not worth a second grant.
            self._integrations[key] = apigw.LambdaIntegration(function, allow_test_invoke=False)
        resource = self.rest_api.root.resource_for_path(path.strip("/"))
        for method in methods:
            resource.add_method(method, self._integrations[key])
