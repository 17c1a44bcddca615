"""Signed webhooks: outputs delivered to HTTP receivers (AP platforms, ticketing, chat) through an outbox."""
