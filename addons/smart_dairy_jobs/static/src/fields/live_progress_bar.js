/** @odoo-module **/
import { registry } from "@web/core/registry";
import { ProgressBarField, progressBarField } from "@web/views/fields/progress_bar/progress_bar_field";
import { onMounted, onWillUnmount } from "@odoo/owl";
import { Reloader, useLiveChanges } from "@smart_dairy_jobs/live/live_updates";

// Sent by the write-back (engine/writeback.py) to the job's own user when jobs of theirs move.
const JOB_PROGRESS = "smart_dairy_jobs/job_progress";
const LIVE_STATES = ["waiting", "pending", "enqueued", "started", "retry"];
const FALLBACK_POLL_MS = 2000;

// A progress bar that follows a job: the record is read again (only when the form has no unsaved
// edits) as soon as the bus says the job moved, so 10/50/90 % show as they come. Every Jobs user
// who may read the job hears of it (engine/live.py, on their companies' channels); the job's own
// user also gets its progress directly. Without a websocket (a proxy that does not route /websocket,
// Odoo's test mode) it reads a running job every two seconds instead.
export class LiveProgressBarField extends ProgressBarField {
    setup() {
        super.setup();
        const reloader = new Reloader(async () => {
            const record = this.props.record;
            if (!record.dirty && record.resId) {
                await record.load();
            }
        });
        const isLive = () => LIVE_STATES.includes(this.props.record.data.state);
        const bus = useLiveChanges(
            (payload) => {
                // A running job may have moved in a change the server holds for its next notification
                // (at most one a second): any notification about jobs has it read again shortly.
                const named = payload.job_ids?.includes(this.props.record.resId);
                if (named || payload.truncated || (isLive() && payload.job_ids?.length)) {
                    reloader.request();
                }
            },
            () => reloader.request()
        );
        const onJobProgress = ({ jobs }) => {
            if (jobs.some((job) => job.id === this.props.record.resId)) {
                reloader.request();
            }
        };
        let timer = null;
        onMounted(() => {
            bus.subscribe(JOB_PROGRESS, onJobProgress);
            timer = setInterval(() => {
                if (bus.workerState !== "CONNECTED" && isLive()) {
                    reloader.run();
                }
            }, FALLBACK_POLL_MS);
        });
        onWillUnmount(() => {
            bus.unsubscribe(JOB_PROGRESS, onJobProgress);
            clearInterval(timer);
            reloader.stop();
        });
    }
}

registry.category("fields").add("sdj_live_progressbar", {
    ...progressBarField,
    component: LiveProgressBarField,
});
