# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Smart Dairy Operations",
    "summary": "The dairy's own background work: notifications, reports, payments",
    "version": "18.0.1.1.0",
    "category": "Technical",
    "website": "https://smartdairybd.com",
    "author": "Smart Dairy Ltd.",
    "license": "LGPL-3",
    "maintainers": ["smartdairybd"],
    "development_status": "Beta",
    "depends": ["smart_dairy_jobs", "smart_dairy_iot"],
    # celery_bridge (the plain core shared with the workers) and, pinned there, every library the addon imports.
    "external_dependencies": {"python": ["smart-dairy-celery-bridge==18.0.*"]},
    "data": [
        "security/smart_dairy_operations_security.xml",
        "security/ir.model.access.csv",
        "data/smart_dairy_job_task_data.xml",
        "data/ir_sequence_data.xml",
        "views/smart_dairy_notification_log_views.xml",
        "views/smart_dairy_payment_views.xml",
        "views/smart_dairy_report_request_views.xml",
        "views/smart_dairy_operations_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "smart_dairy_operations/static/src/tours/*.js",
        ],
    },
}
