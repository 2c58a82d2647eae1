"""The HTTP surface: one router that the Lambda handler and the local WSGI app both serve.

Transport adapters (``apigw`` for API Gateway events, ``lambdas.local.wsgi`` for WSGI) turn a
request into a ``Request``, ``Router.dispatch`` answers it, and the adapters send the
``Response``. Routes are declared once, in ``routes``; infra/api.py builds API Gateway's
resources from the same table.
"""
