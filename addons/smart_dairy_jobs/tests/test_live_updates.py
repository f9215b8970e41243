"""Live updates over the bus (engine/live.py): who is told of which job, queue and worker changes,
with ids only, once per transaction and at most once a second per target."""
import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.bus.tests.common import WebsocketCase

from ..engine import live
from .common import SmartDairyJobsCase

CHANGED = "smart_dairy_jobs/changed"
MARKER = "smart_dairy_jobs/test_marker"
# All a notification may say: ids, and which company's channel it came on.
PAYLOAD_KEYS = {"job_ids", "queue_ids", "worker_ids", "company_id", "truncated"}


def started(job):
    return {"uuid": job.uuid, "attempt": 1, "state": "started", "at": "2026-11-21 08:00:00.250000",
            "worker": "w1@host"}


class LiveUpdatesCase(SmartDairyJobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.main = cls.env.company
        cls.other_company = cls.env["res.company"].create({"name": "Other Dairy"})
        cls.outsider = new_test_user(
            cls.env, login="sdj_live_outsider", groups="base.group_user,smart_dairy_jobs.group_user",
            company_id=cls.other_company.id, company_ids=[cls.other_company.id], name="Other Dairy's Jobs User")
        cls.both = new_test_user(
            cls.env, login="sdj_live_both", groups="base.group_user,smart_dairy_jobs.group_user",
            company_id=cls.main.id, company_ids=[cls.main.id, cls.other_company.id], name="Jobs User of Both")
        cls.employee = new_test_user(cls.env, login="sdj_live_employee", groups="base.group_user",
                                     name="Employee without Jobs")
        cls.portal = new_test_user(cls.env, login="sdj_live_portal", groups="base.group_portal", name="Portal User")
        cls.jobs_group = cls.env.ref("smart_dairy_jobs.group_user")
        cls.shared_queue = cls.env.ref("smart_dairy_jobs.queue_celery")

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param(live.INTERVAL_PARAM, "0")
        live.THROTTLE.reset()
        self.addCleanup(live.THROTTLE.reset)

    def flush_bus(self):
        """Create the bus rows the transaction has queued (as its commit would); the newest id before."""
        self.env.cr.precommit.run()
        return self.env["bus.bus"].sudo().search([], order="id desc", limit=1).id or 0

    def told_since(self, last_id):
        """{channel: [payload, ...]} of the live-update notifications queued since ``last_id``."""
        self.flush_bus()
        told = {}
        for row in self.env["bus.bus"].sudo().search([("id", ">", last_id)], order="id"):
            message = json.loads(row.message)
            if message["type"] == CHANGED:
                told.setdefault(tuple(json.loads(row.channel)), []).append(message["payload"])
        return told

    def channel(self, target):
        """A target as the bus stores its channel."""
        db = self.env.cr.dbname
        if isinstance(target, tuple):
            return (db, target[0]._name, target[0].id, target[1])
        return (db, target._name, target.id)

    def company(self, company):
        return self.channel(live.company_channel(company))

    def listened_by(self, user):
        """The channels a user's websocket listens on (ir.websocket _build_bus_channel_list, checked
        over a real websocket in TestLiveUpdatesOverWebsocket), except the 'broadcast' string."""
        return {self.channel(target) for target in
                [user.partner_id, *user.groups_id, *live.bus_channels(user)]}

    def enqueued(self, *jobs):
        for job in jobs:
            self.mark_enqueued(job)
        return jobs


class TestLiveUpdates(LiveUpdatesCase):

    def test_a_batch_tells_each_company_of_its_own_jobs_once_and_nobody_else(self):
        ours = self.enqueued(self.dispatch_as(self.jobs_user), self.dispatch_as(self.jobs_user))
        [theirs] = self.enqueued(self.dispatch_as(self.outsider))
        self.assertEqual(theirs.company_id, self.other_company)
        self.assertFalse(self.shared_queue.company_id)
        last = self.flush_bus()
        self.report(started(ours[0]), {"uuid": ours[0].uuid, "attempt": 1, "state": "progress", "progress": 40,
                                       "progress_message": "cow 42 of 100"},
                    started(ours[1]), started(theirs))
        told = self.told_since(last)
        self.assertEqual(told, {
            self.company(self.main): [{"job_ids": sorted(job.id for job in ours), "company_id": self.main.id}],
            self.company(self.other_company): [{"job_ids": [theirs.id], "company_id": self.other_company.id}],
            # A shared queue is every Jobs user's to read, its depth counting every company's jobs.
            self.channel(self.jobs_group): [{"queue_ids": [self.shared_queue.id]}],
        })
        for payloads in told.values():
            for payload in payloads:
                self.assertLessEqual(set(payload), PAYLOAD_KEYS)
                self.assertNotIn("cow 42", json.dumps(payload))

        def heard(user):
            return {channel for channel in told if channel in self.listened_by(user)}

        self.assertEqual(heard(self.jobs_user), {self.company(self.main), self.channel(self.jobs_group)})
        self.assertEqual(heard(self.outsider), {self.company(self.other_company), self.channel(self.jobs_group)})
        self.assertEqual(heard(self.both), set(told))
        self.assertEqual(heard(self.employee), set(), "no Jobs rights: nothing")
        self.assertEqual(heard(self.portal), set(), "a portal user: nothing")

    def test_only_jobs_users_listen_on_their_companies(self):
        self.assertEqual(live.bus_channels(self.jobs_user), [live.company_channel(self.main)])
        self.assertEqual(live.bus_channels(self.outsider), [live.company_channel(self.other_company)])
        self.assertEqual(set(live.bus_channels(self.both)),
                         {live.company_channel(self.main), live.company_channel(self.other_company)})
        self.assertEqual(live.bus_channels(self.employee), [])
        self.assertEqual(live.bus_channels(self.portal), [])
        self.assertEqual(live.bus_channels(self.env.ref("base.public_user")), [])

    def test_heartbeats_ignored_and_invalid_reports_tell_nobody(self):
        [job] = self.enqueued(self.dispatch_as(self.jobs_user))
        self.report(started(job))
        last = self.flush_bus()
        self.report({"uuid": job.uuid, "attempt": 1, "state": "heartbeat"}, started(job),
                    {"uuid": job.uuid, "attempt": 1, "state": "progress", "progress": 150})
        self.assertEqual(self.told_since(last), {})

    def test_dispatch_cancel_and_pause_are_told(self):
        last = self.flush_bus()
        job = self.dispatch_as(self.jobs_user)
        self.assertEqual(self.told_since(last), {
            self.company(self.main): [{"job_ids": [job.id], "company_id": self.main.id}],
            self.channel(self.jobs_group): [{"queue_ids": [self.shared_queue.id]}],
        })
        last = self.flush_bus()
        job.with_user(self.jobs_user).action_cancel()
        self.assertEqual(self.told_since(last)[self.company(self.main)],
                         [{"job_ids": [job.id], "company_id": self.main.id}])
        # A queue of one company is told to that company's Jobs users only.
        own_queue = self.env["smart_dairy.job.queue"].create({"name": "celery:other", "company_id": self.other_company.id})
        last = self.flush_bus()
        (own_queue | self.shared_queue).action_pause()
        self.assertEqual(self.told_since(last), {
            self.company(self.other_company): [{"queue_ids": [own_queue.id], "company_id": self.other_company.id}],
            self.channel(self.jobs_group): [{"queue_ids": [self.shared_queue.id]}],
        })

    def test_a_refused_call_tells_nothing(self):
        [job] = self.enqueued(self.dispatch_as(self.jobs_user))
        last = self.flush_bus()
        with self.assertRaises(AccessError):
            job.with_user(self.outsider).action_cancel()
        self.assertEqual(job.state, "enqueued")
        self.assertEqual(self.told_since(last), {})

    def test_heartbeats_tell_the_worker_list_what_it_shows(self):
        Bridge = self.env["smart_dairy.job.bridge"].with_user(self.bridge)
        Worker = self.env["smart_dairy.job.worker"]
        beat = {"hostname": "live-a@farm", "queues": ["celery"], "pool": "prefork", "concurrency": 2,
                "active_tasks": 0, "interval": 10}
        last = self.flush_bus()
        Bridge.bridge_heartbeat(beat)
        worker = Worker.search([("hostname", "=", "live-a@farm")])
        self.assertEqual(self.told_since(last), {self.channel(self.jobs_group): [{"worker_ids": [worker.id]}]},
                         "a new worker")
        last = self.flush_bus()
        Bridge.bridge_heartbeat(beat)
        self.assertEqual(self.told_since(last), {}, "nothing the list shows changed")
        last = self.flush_bus()
        Bridge.bridge_heartbeat(dict(beat, active_tasks=1))
        self.assertEqual(self.told_since(last), {self.channel(self.jobs_group): [{"worker_ids": [worker.id]}]},
                         "busier")

        # Another worker fell silent 3 beats ago, within the beating worker's last 5 s: its silence is told.
        now = fields.Datetime.now()
        worker.last_heartbeat = now - timedelta(seconds=5)
        Bridge.bridge_heartbeat(dict(beat, hostname="live-b@farm"))
        silent = Worker.search([("hostname", "=", "live-b@farm")])
        silent.last_heartbeat = now - timedelta(seconds=3 * 10 + 2)
        self.assertEqual(silent.state, "offline")
        last = self.flush_bus()
        Bridge.bridge_heartbeat(dict(beat, active_tasks=1))
        self.assertEqual(self.told_since(last), {self.channel(self.jobs_group): [{"worker_ids": [silent.id]}]})
        last = self.flush_bus()
        Bridge.bridge_heartbeat(dict(beat, active_tasks=1))
        self.assertEqual(self.told_since(last), {}, "told once")
        last = self.flush_bus()
        Bridge.bridge_heartbeat(dict(beat, hostname="live-b@farm"))
        self.assertEqual(self.told_since(last), {self.channel(self.jobs_group): [{"worker_ids": [silent.id]}]},
                         "back online")

    def test_at_most_one_a_second_per_target_and_what_waits_is_told_next(self):
        first, second, third = self.enqueued(*(self.dispatch_as(self.jobs_user) for _ in range(3)))
        self.flush_bus()  # their dispatch is told before the test starts
        self.env["ir.config_parameter"].sudo().set_param(live.INTERVAL_PARAM, "3600")
        live.THROTTLE.reset()
        last = self.flush_bus()
        self.report(started(first))
        self.assertEqual(self.told_since(last)[self.company(self.main)],
                         [{"job_ids": [first.id], "company_id": self.main.id}])
        last = self.flush_bus()
        self.report(started(second))
        self.assertEqual(self.told_since(last), {}, "within the interval: held")
        self.env["ir.config_parameter"].sudo().set_param(live.INTERVAL_PARAM, "0")
        last = self.flush_bus()
        self.report(started(third))
        self.assertEqual(self.told_since(last), {
            self.company(self.main): [{"job_ids": [second.id, third.id], "company_id": self.main.id}],
            self.channel(self.jobs_group): [{"queue_ids": [self.shared_queue.id]}],
        })


@tagged("post_install", "-at_install")
class TestLiveUpdatesOverWebsocket(WebsocketCase):
    """The channels a real websocket listens on (ir.websocket as extended by the addon): a Jobs user
    of the job's company hears of it; a Jobs user of another company, an employee without Jobs
    rights and a portal user do not."""

    def connect(self, user):
        session = self.authenticate(user.login, user.login)
        self.session = None  # several people at once: the next authenticate keeps this session
        socket = self.websocket_connect(cookie=f"session_id={session.sid}")
        self.subscribe(socket, [], self.env["bus.bus"]._bus_last_id())
        return socket

    def frames(self, socket):
        return [notification["message"] for notification in json.loads(socket.recv())]

    def frames_until_marker(self, user, socket):
        """What ``socket`` gets up to a note sent now to ``user`` alone: had it been told anything else
        before, that would come first (a websocket gets its channels' notifications in order)."""
        user.partner_id._bus_send(MARKER, {})
        self.trigger_notification_dispatching([user.partner_id])
        frames = []
        while not frames or frames[-1]["type"] != MARKER:
            frames.extend(self.frames(socket))
        return frames[:-1]

    def test_jobs_users_of_the_company_hear_others_do_not(self):
        self.env["ir.config_parameter"].sudo().set_param(live.INTERVAL_PARAM, "0")
        live.THROTTLE.reset()
        self.addCleanup(live.THROTTLE.reset)
        other_company = self.env["res.company"].create({"name": "Other Dairy"})
        groups = "base.group_user,smart_dairy_jobs.group_user"
        viewer = new_test_user(self.env, login="sdj_ws_viewer", groups=groups)
        outsider = new_test_user(self.env, login="sdj_ws_outsider", groups=groups, company_id=other_company.id,
                                 company_ids=[other_company.id])
        employee = new_test_user(self.env, login="sdj_ws_employee", groups="base.group_user")
        portal = new_test_user(self.env, login="sdj_ws_portal", groups="base.group_portal")
        sockets = {user: self.connect(user) for user in (viewer, outsider, employee, portal)}

        Job = self.env["smart_dairy.job"]
        job = Job.with_user(viewer).dispatch("smart_dairy.health.ping")
        job.sudo().write({"state": "enqueued", "attempt": 1})
        bridge = self.env.ref("smart_dairy_jobs.user_bridge")
        Job.with_user(bridge).bridge_report([started(job)])
        group = self.env.ref("smart_dairy_jobs.group_user")
        self.trigger_notification_dispatching([live.company_channel(self.env.company), group])
        told = [frame["payload"] for frame in self.frames(sockets[viewer]) if frame["type"] == CHANGED]
        self.assertIn(job.id, [job_id for payload in told for job_id in payload.get("job_ids", [])])

        # Another company's Jobs user hears of the shared queue (its depth is theirs to read), not of the job.
        self.assertEqual([frame["payload"] for frame in self.frames_until_marker(outsider, sockets[outsider])],
                         [{"queue_ids": [job.queue_id.id]}])
        self.assertEqual(self.frames_until_marker(employee, sockets[employee]), [], "no Jobs rights: nothing")
        self.assertEqual(self.frames_until_marker(portal, sockets[portal]), [], "a portal user: nothing")
