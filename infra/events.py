"""Outbound events: the environment's EventBridge bus, and the webhook deliverer's plumbing.

The relay, the forwarder, the stale check and the audit publish their events (``source``
``qbxml-relay``, ``detail-type`` the event type) to one bus per environment. One rule sends
them to the webhook deliverer; anyone can add their own rules and targets to the bus (SNS
e-mail, a Slack webhook through an API destination, a queue) without code.

Retries: a failed webhook attempt is brought back by a delayed message on the retry queue (per
subscriber and with its own backoff, which a rule's retry policy, retrying the whole event for
every subscriber at once, could not give). The rule's own retry policy and its dead-letter queue
only cover the deliverer failing as a whole; the retry queue's dead-letter queue takes the
messages the deliverer keeps failing on. Both dead-letter queues are one queue, watched by an
alarm (see observability).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.events.eventbridge import SOURCE
from lambdas.model.events import EVENT_TYPES

# How often SQS hands a retry message to the deliverer before parking it.
RETRY_RECEIVES = 3
# How long the rule keeps trying to hand an event to the deliverer.
RULE_RETRIES = 4
RULE_MAX_AGE = Duration.hours(2)


class EventRouting(Construct):
    """The bus, the webhook rule, the retry queue and their dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus_name: str,
        deliverer_timeout_seconds: int,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.dead_letters = sqs.Queue(
            self,
            "WebhookDeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal,
        )
        self.retries = sqs.Queue(
            self,
            "WebhookRetries",
            # Six times the function's timeout, as AWS advises for an SQS event source.
            visibility_timeout=Duration.seconds(6 * deliverer_timeout_seconds),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=RETRY_RECEIVES
            ),
            removal_policy=removal,
        )

    def deliver_with(self, function: lambda_.IFunction) -> events.Rule:
        """Send every relay event on the bus to ``function``."""
        return events.Rule(
            self,
            "WebhookRule",
            event_bus=self.bus,
            description="Relay events to the webhook deliverer",
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=list(EVENT_TYPES)),
            targets=[
                targets.LambdaFunction(
                    function,
                    retry_attempts=RULE_RETRIES,
                    max_event_age=RULE_MAX_AGE,
                    dead_letter_queue=self.dead_letters,
                )
            ],
        )

    def grant_put(self, function: lambda_.IFunction) -> None:
        """events:PutEvents on this bus alone."""
        iam.Grant.add_to_principal(
            grantee=function, actions=["events:PutEvents"], resource_arns=[self.bus.event_bus_arn]
        )
