"""What a payment reference may be: the invoice / order number both gateways (bKash, Nagad) take, one
charge per reference. Odoo checks it on the payment, the schema at dispatch, the gateway adapters before
calling out."""
import re

REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,63}")
