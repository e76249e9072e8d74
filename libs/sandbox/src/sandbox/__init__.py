"""Faithful emulators of the third parties the platform talks to.

Telegram Bot API, the payment providers (YooKassa, Wata) and Marzban panels, each an HTTP
server on a free loopback port that answers field for field as the real service does (see
``shared/reference``), so the same client code works against either by changing a URL and
credentials. They are the only stand-ins in the system: ``make up`` uses them when no real
credentials are configured, and the end-to-end tests drive them. Production settings refuse
to start while any of them is configured. The emulators arrive with the purchase flow.
"""
