/** @odoo-module **/
import { browser } from "@web/core/browser/browser";
import { useService } from "@web/core/utils/hooks";
import { onMounted, onWillUnmount } from "@odoo/owl";

// Sent by engine/live.py when jobs, queues or workers change: their ids only, never their values,
// so a view reads them again through the ORM (and its record rules).
export const LIVE_CHANGED = "smart_dairy_jobs/changed";
// The server tells each target at most once a second and holds what changes in between for its
// next notification (celery_bridge/core/live_updates.py): reading once more a little over a second
// after the last notification shows what was held even when no next one comes.
export const RELOAD_WINDOW_MS = 1000;
export const RELOAD_AGAIN_AFTER_MS = 1500;

/**
 * Runs `reload` when asked, at most once per RELOAD_WINDOW_MS, and once more RELOAD_AGAIN_AFTER_MS
 * after the last request; never two at a time (a request during a reload runs one after it).
 */
export class Reloader {
    constructor(reload) {
        this.reload = reload;
        this.lastStart = 0;
        this.running = false;
        this.again = false;
        this.trailing = null;
    }

    request() {
        if (Date.now() - this.lastStart >= RELOAD_WINDOW_MS) {
            this.run();
        }
        browser.clearTimeout(this.trailing);
        this.trailing = browser.setTimeout(() => this.run(), RELOAD_AGAIN_AFTER_MS);
    }

    async run() {
        if (this.running) {
            this.again = true;
            return;
        }
        this.running = true;
        this.lastStart = Date.now();
        try {
            await this.reload();
        } finally {
            this.running = false;
            if (this.again) {
                this.again = false;
                this.run();
            }
        }
    }

    stop() {
        browser.clearTimeout(this.trailing);
        this.reload = () => {};
    }
}

/**
 * Listen to live changes while the component is mounted: `onChange(payload)` for each notification
 * (`{job_ids?, queue_ids?, worker_ids?, truncated?, company_id?}`), `onReconnect()` when the
 * websocket comes back (what was missed meanwhile may be older than the bus keeps). Returns the bus
 * service, whose `workerState` says whether the websocket is connected.
 */
export function useLiveChanges(onChange, onReconnect = () => {}) {
    const bus = useService("bus_service");
    const reconnected = () => onReconnect();
    onMounted(() => {
        bus.subscribe(LIVE_CHANGED, onChange);
        bus.addEventListener("reconnect", reconnected);
        bus.start();
    });
    onWillUnmount(() => {
        bus.unsubscribe(LIVE_CHANGED, onChange);
        bus.removeEventListener("reconnect", reconnected);
    });
    return bus;
}

/** Whether a notification about `kind` (e.g. "queue_ids") concerns what a view of the active companies shows. */
export function concernsShown(payload, kind, activeCompanyIds) {
    if (!payload[kind]?.length && !payload.truncated) {
        return false;
    }
    return !payload.company_id || activeCompanyIds.includes(payload.company_id);
}

/**
 * A list/kanban controller's live reload: the view's model loads again (debounced by a Reloader)
 * when a notification of `kind` concerns it; not while records are selected, which a reload would
 * clear (the first notification after the selection ends brings the view up to date).
 */
export function useLiveReload(controller, kind) {
    const companyService = useService("company");
    const reloader = new Reloader(async () => {
        if (!controller.model.root.selection?.length) {
            await controller.model.load();
        }
    });
    useLiveChanges(
        (payload) => {
            if (concernsShown(payload, kind, companyService.activeCompanyIds)) {
                reloader.request();
            }
        },
        () => reloader.request()
    );
    onWillUnmount(() => reloader.stop());
    return reloader;
}
