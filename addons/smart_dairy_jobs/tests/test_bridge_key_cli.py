import grp
import os
import stat
import tempfile
from pathlib import Path

from odoo.cli.command import commands
from odoo.tests import TransactionCase, tagged

from ..cli.bridge_key import ISSUED, KEPT, bridge_key_for, read_key, restrict, write_key_file


@tagged("post_install", "-at_install")
class TestBridgeKeyCommand(TransactionCase):
    """``odoo sdj_bridge_key``: what docker-compose's init step runs before the workers start."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bridge = cls.env.ref("smart_dairy_jobs.user_bridge")
        cls.ApiKeys = cls.env["res.users.apikeys"].sudo()

    def key_user(self, key):
        return self.ApiKeys._check_credentials(scope="rpc", key=key)

    def bridge_keys(self):
        return self.ApiKeys.search([("user_id", "=", self.bridge.id)])

    def test_the_command_is_found_by_odoo(self):
        self.assertIn("sdj_bridge_key", commands)

    def test_without_a_key_one_is_issued_for_the_bridge_and_written_readable_by_the_owner_only(self):
        key, outcome = bridge_key_for(self.env, "")
        self.assertEqual(outcome, ISSUED)
        self.assertEqual(self.key_user(key), self.bridge.id)
        self.assertFalse(self.env["smart_dairy.job.bridge.key"].search([("key", "=", key)]),
                         "the key does not stay in the database")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "secrets" / "bridge_api_key"
            os.replace(write_key_file(path, key), path)
            self.assertEqual(read_key(path), key)
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
            self.assertEqual(os.listdir(path.parent), ["bridge_api_key"], "no temporary file left")

    def test_a_key_that_still_works_is_kept(self):
        key, _outcome = bridge_key_for(self.env, "")
        keys = self.bridge_keys()
        again, outcome = bridge_key_for(self.env, key)
        self.assertEqual((again, outcome), (key, KEPT))
        self.assertEqual(self.bridge_keys(), keys, "no key issued, none revoked")

    def test_a_key_that_no_longer_works_is_replaced_and_the_old_ones_revoked(self):
        old, _outcome = bridge_key_for(self.env, "")
        for stale in ("not-a-key", old + "x"):
            new, outcome = bridge_key_for(self.env, stale)
            self.assertEqual(outcome, ISSUED)
            self.assertEqual(self.key_user(new), self.bridge.id)
        self.assertFalse(self.key_user(old), "the previous key is revoked")
        self.assertEqual(len(self.bridge_keys()), 1)
        # Another user's key does not stand for the bridge's.
        admins_key = self.ApiKeys.with_user(self.env.ref("base.user_admin"))._generate("rpc", "admin's", None)
        replaced, outcome = bridge_key_for(self.env, admins_key)
        self.assertEqual(outcome, ISSUED)
        self.assertNotEqual(replaced, admins_key)

    def test_a_group_may_read_the_file(self):
        group = grp.getgrgid(os.getgid()).gr_name
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bridge_api_key"
            os.replace(write_key_file(path, "k", group), path)
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o640)
            path.chmod(0o644)
            restrict(path)
            self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
