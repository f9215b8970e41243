"""The outside world: mail (SMTP), SMS provider, payment gateways, table rendering (CSV, XLSX, PDF).
Depends on core only."""
