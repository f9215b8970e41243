"""Every SQL statement the workers run on Odoo's tables, in one place (bulk IoT readings, alerts, milk
aggregation, job statistics, report rows, old readings). Depends on core only."""
