import hmac

from odoo import http
from odoo.http import request


class SmartDairyJobsMetrics(http.Controller):
    """Prometheus endpoint computed from Odoo's job tables: no token, no data."""

    @http.route("/smart_dairy_jobs/metrics", type="http", auth="none", methods=["GET"], csrf=False,
                save_session=False)
    def metrics(self, **kwargs):
        if not request.db:
            return request.make_response("no database\n", status=404)
        expected = request.env["ir.config_parameter"].sudo().get_param("smart_dairy_jobs.metrics_token")
        given = request.httprequest.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
            return request.make_response("a valid metrics token is required\n", status=401,
                                         headers=[("WWW-Authenticate", "Bearer")])
        body, content_type = request.env["smart_dairy.job.monitor"].sudo()._prometheus_exposition()
        return request.make_response(body, headers=[("Content-Type", content_type)])
