"""ZOHO CRM: a thin v8 client on requests, the QuickBooks-to-ZOHO mapping and the forwarder core.

Nothing here imports AWS: stores arrive as ports (``lambdas.store.ports``).
"""
