# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Smart Dairy IoT",
    "summary": "Farm devices, sensor readings, thresholds and alerts, fed from MQTT by background jobs",
    "version": "18.0.1.1.0",
    "category": "Technical",
    "website": "https://smartdairybd.com",
    "author": "Smart Dairy Ltd.",
    "license": "LGPL-3",
    "maintainers": ["smartdairybd"],
    "development_status": "Beta",
    "application": True,
    "depends": ["smart_dairy_jobs"],
    # celery_bridge (the plain core shared with the workers) and, pinned there, every library the addon imports.
    "external_dependencies": {"python": ["smart-dairy-celery-bridge==18.0.*"]},
    "data": [
        "security/smart_dairy_iot_security.xml",
        "security/ir.model.access.csv",
        "data/smart_dairy_job_data.xml",
        "views/smart_dairy_iot_device_views.xml",
        "views/smart_dairy_iot_reading_views.xml",
        "views/smart_dairy_iot_alert_views.xml",
        "views/smart_dairy_iot_threshold_views.xml",
        "views/smart_dairy_iot_milk_production_views.xml",
        "views/smart_dairy_iot_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "smart_dairy_iot/static/src/tours/*.js",
        ],
    },
}
