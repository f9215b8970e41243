"""Odoo's bus as production runs it, inside an HttpCase: the browser's websocket is allowed and hears
of each notification once the request that sent it ends.

Odoo's test cursor never commits, so the bus's after-commit NOTIFY that wakes the websockets never
happens (and Odoo's own runner refuses websockets in tests; pytest-odoo does not). Here each
notification wakes the websockets of its channel right after its bus row is written, as the NOTIFY
would; they then read the row through the test cursor, as they read committed rows in production.
"""
from unittest.mock import patch

from odoo.tests import HttpCase

from odoo.addons.bus.models.bus import ImBus, channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler

send_one = ImBus._sendone


def send_and_wake(self, target, notification_type, message):
    send_one(self, target, notification_type, message)
    channel = hashable(channel_with_db(self.env.cr.dbname, target))

    # Added after the bus's own hook that writes the row: the websockets find it when they look.
    def wake():
        for websocket in list(dispatch._channels_to_ws.get(channel, ())):
            websocket.trigger_notification_dispatching()

    self.env.cr.precommit.add(wake)


class BusDeliveredCase(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))
        cls.startClassPatcher(patch.object(ImBus, "_sendone", send_and_wake))
