# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Smart Dairy Jobs",
    "summary": "Background jobs on Celery workers, recorded and monitored in Odoo",
    "version": "18.0.1.0.0",
    "category": "Technical",
    "website": "https://smartdairybd.com",
    "author": "Smart Dairy Ltd.",
    "license": "LGPL-3",
    "application": True,
    "depends": ["mail", "queue_job"],
    "external_dependencies": {"python": ["celery", "redis"]},
    "data": [
        "security/smart_dairy_jobs_security.xml",
        "security/ir.model.access.csv",
        "data/smart_dairy_job_queue_data.xml",
        "data/smart_dairy_job_task_data.xml",
        "data/smart_dairy_jobs_bridge_user_data.xml",
        "data/ir_cron_data.xml",
        "views/smart_dairy_job_views.xml",
        "views/smart_dairy_job_queue_views.xml",
        "views/smart_dairy_job_task_views.xml",
        "views/smart_dairy_job_dead_letter_views.xml",
        "views/smart_dairy_job_circuit_views.xml",
        "wizards/smart_dairy_job_dead_letter_resolve_views.xml",
        "wizards/smart_dairy_job_bridge_key_views.xml",
        "views/smart_dairy_jobs_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "smart_dairy_jobs/static/src/tours/*.js",
        ],
    },
}
