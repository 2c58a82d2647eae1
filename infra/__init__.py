"""AWS CDK app for qbxml-relay: one stack per environment, one construct per concern."""
