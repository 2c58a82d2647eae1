"""The canonical model: entities, identity and version rules, content hashes, the envelope.

Every source (QuickBooks Desktop through the Web Connector, QuickBooks Online) produces the same
canonical records, and the sync engine, the forwarder and the audit all read them through this
package. It knows nothing of AWS, HTTP or ZOHO's API.
"""
