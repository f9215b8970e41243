/** @odoo-module **/
import { registry } from "@web/core/registry";
import { ProgressBarField, progressBarField } from "@web/views/fields/progress_bar/progress_bar_field";
import { onMounted, onWillUnmount } from "@odoo/owl";

const LIVE_STATES = ["pending", "enqueued", "started", "retry"];
const REFRESH_MS = 2000;

// A progress bar that follows a running job: while the job is not finished, the record is read
// again every two seconds (only when the form has no unsaved edits), so 10/50/90 % show as they come.
export class LiveProgressBarField extends ProgressBarField {
    setup() {
        super.setup();
        let timer = null;
        onMounted(() => {
            timer = setInterval(() => {
                const record = this.props.record;
                if (LIVE_STATES.includes(record.data.state) && !record.dirty && record.resId) {
                    record.load();
                }
            }, REFRESH_MS);
        });
        onWillUnmount(() => clearInterval(timer));
    }
}

registry.category("fields").add("sdj_live_progressbar", {
    ...progressBarField,
    component: LiveProgressBarField,
});
