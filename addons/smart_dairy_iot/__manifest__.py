# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Smart Dairy IoT",
    "summary": "Farm devices and sensor readings processed by background jobs (stub)",
    "version": "18.0.0.1.0",
    "category": "Technical",
    "website": "https://smartdairybd.com",
    "author": "Smart Dairy Ltd.",
    "license": "LGPL-3",
    "depends": ["smart_dairy_jobs"],
}
