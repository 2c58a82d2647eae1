"""QuickBooks Online: the API client and its OAuth tokens, webhooks, change-data-capture and the
sync that turns QuickBooks Online objects into the canonical records the ZOHO forwarder reads.

A source layer: it may use ``requests``, never boto3 (AWS adapters live in ``lambdas/store``).
"""
