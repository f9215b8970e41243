/** @odoo-module **/
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { ProgressBarField, progressBarField } from "@web/views/fields/progress_bar/progress_bar_field";
import { onMounted, onWillUnmount } from "@odoo/owl";

// Sent by the write-back (engine/writeback.py) to the job's user when jobs of theirs move.
const JOB_PROGRESS = "smart_dairy_jobs/job_progress";
const LIVE_STATES = ["pending", "enqueued", "started", "retry"];
const REFRESH_MS = 2000;

// A progress bar that follows a running job: the record is read again (only when the form has no
// unsaved edits) as soon as the bus says the job moved, so 10/50/90 % show as they come. The bus
// tells only the job's own user; for someone else's job, or without a websocket (a proxy that does
// not route /websocket, Odoo's test mode), it reads the running job every two seconds instead.
export class LiveProgressBarField extends ProgressBarField {
    setup() {
        super.setup();
        const bus = useService("bus_service");
        const reload = () => {
            const record = this.props.record;
            if (!record.dirty && record.resId) {
                record.load();
            }
        };
        const onJobProgress = ({ jobs }) => {
            if (jobs.some((job) => job.id === this.props.record.resId)) {
                reload();
            }
        };
        let timer = null;
        onMounted(() => {
            bus.subscribe(JOB_PROGRESS, onJobProgress);
            bus.start();
            timer = setInterval(() => {
                const data = this.props.record.data;
                const owner = Array.isArray(data.user_id) ? data.user_id[0] : data.user_id?.id;
                const toldByBus = bus.workerState === "CONNECTED" && owner === user.userId;
                if (!toldByBus && LIVE_STATES.includes(data.state)) {
                    reload();
                }
            }, REFRESH_MS);
        });
        onWillUnmount(() => {
            bus.unsubscribe(JOB_PROGRESS, onJobProgress);
            clearInterval(timer);
        });
    }
}

registry.category("fields").add("sdj_live_progressbar", {
    ...progressBarField,
    component: LiveProgressBarField,
});
