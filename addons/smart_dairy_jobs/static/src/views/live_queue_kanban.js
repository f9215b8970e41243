/** @odoo-module **/
import { registry } from "@web/core/registry";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { KanbanController } from "@web/views/kanban/kanban_controller";
import { useLiveReload } from "@smart_dairy_jobs/live/live_updates";

// The queue dashboard: waiting jobs, oldest wait and health change as jobs move (engine/live.py
// tells of the queues of jobs dispatched, sent, reported on or cancelled, and of paused queues).
export class LiveQueueKanbanController extends KanbanController {
    setup() {
        super.setup();
        useLiveReload(this, "queue_ids");
    }
}

registry.category("views").add("sdj_live_queue_kanban", {
    ...kanbanView,
    Controller: LiveQueueKanbanController,
});
