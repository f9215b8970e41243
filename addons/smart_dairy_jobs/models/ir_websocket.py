from odoo import models

from ..engine import live


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        """Jobs users also listen on their companies' live-update channels (engine.live): record
        channels, which only the server adds, unlike the strings any client may ask for."""
        channels = super()._build_bus_channel_list(channels)
        channels.extend(live.bus_channels(self.env.user))
        return channels
