"""The QuickBooks Web Connector protocol and its SOAP binding.

Importing this package installs the spyne compatibility finder first, so spyne imports on
Python 3.12+ wherever it is imported from within the package.
"""

from . import spyne_compat  # noqa: F401
