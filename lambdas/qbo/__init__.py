"""QuickBooks Online: OAuth, tokens, the Accounting API client, per-realm limits, connections."""
