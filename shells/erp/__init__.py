"""ERP posting: one adapter per ERP to its real API shape, a simulator of each on loopback, and the posting
service that drives them (a durable queue, retries with backoff, per-ERP limits and a circuit breaker).

The engine only says an invoice is ready to post (the `posting_requests` output); this package posts it and
turns the ERP's answer into an `invoice.status_changed` event that comes back in as input.
"""
