"""Webhook delivery: the only part of flexchat that talks to the outside world.

Changes write their events to the ``outbox`` table in their own transaction
(``domain/events.emit``); :class:`worker.DeliveryWorker`, started with the application,
claims due events with a lease, sends Chat's signed form-encoded request, records every
attempt in ``delivery_attempts`` and settles the event (delivered, retried later,
failed). ``reads`` holds what the API and the CLI show of it, ``metrics`` the outbox
gauges. See docs/webhooks.md.

Nothing is imported here, so that settings validation can use ``destinations`` without
loading the HTTP client.
"""
