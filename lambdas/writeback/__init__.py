"""Write-back: ZOHO CRM accounts and won deals become QuickBooks customers and invoices.

``model`` holds the durable write operations and their outcomes; ``capture`` reads ZOHO's
changes into operations; ``desktop`` and ``online`` apply them to QuickBooks Desktop (through
the Web Connector session's plan) and QuickBooks Online (through its API client); ``conflicts``
decides what a change made on both sides keeps. It knows nothing of AWS: the operations live
in a ``WriteBackStore`` (lambdas/store/writeback_ports.py).
"""
