from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestOperationsTour(HttpCase):
    def test_clerk_charges_a_payment_and_asks_for_a_report(self):
        customer = self.env["res.partner"].create({"name": "Tour Customer", "email": "tour@farm.example"})
        payment = self.env["smart_dairy.payment"].create({
            "partner_id": customer.id, "gateway": "bkash", "payer_number": "01711000000", "amount": 750})
        self.start_tour("/odoo", "smart_dairy_operations_tour", login="admin")
        self.assertEqual((payment.state, payment.job_id.task_name), ("processing", "smart_dairy.payment.process_payment"))
        request = self.env["smart_dairy.report.request"].search([], order="id desc", limit=1)
        self.assertEqual((request.state, request.file_format, request.job_id.task_name),
                         ("running", "xlsx", "smart_dairy.report.generate_report"))
