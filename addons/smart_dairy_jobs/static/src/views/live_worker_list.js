/** @odoo-module **/
import { registry } from "@web/core/registry";
import { listView } from "@web/views/list/list_view";
import { ListController } from "@web/views/list/list_controller";
import { useLiveReload } from "@smart_dairy_jobs/live/live_updates";

// The worker list: a new worker, one back online or gone silent, or busier, shows as its
// heartbeat (or another worker's) lands (engine/live.py heartbeat_changes).
export class LiveWorkerListController extends ListController {
    setup() {
        super.setup();
        useLiveReload(this, "worker_ids");
    }
}

registry.category("views").add("sdj_live_worker_list", {
    ...listView,
    Controller: LiveWorkerListController,
});
