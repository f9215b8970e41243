/** @odoo-module **/
import { registry } from "@web/core/registry";
import { openJobsApp } from "@smart_dairy_jobs/tours/tour_steps";

async function rpc(url, params) {
    const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "call", params }),
    });
    const body = await response.json();
    if (body.error) {
        throw new Error(JSON.stringify(body.error));
    }
    return body.result;
}

function callKw(model, method, args, kwargs = {}) {
    return rpc(`/web/dataset/call_kw/${model}/${method}`, { model, method, args, kwargs });
}

// What a worker does, over RPC as the bridge user (the test put its key in a system parameter).
async function asTheWorker(model, method, args) {
    const worker = JSON.parse(await callKw("ir.config_parameter", "get_param", ["smart_dairy_jobs.live_tour_worker"]));
    return rpc("/jsonrpc", {
        service: "object", method: "execute_kw",
        args: [worker.db, worker.uid, worker.key, model, method, args],
    });
}

async function workerReportsProgress(progress) {
    const worker = JSON.parse(await callKw("ir.config_parameter", "get_param", ["smart_dairy_jobs.live_tour_worker"]));
    return asTheWorker("smart_dairy.job", "bridge_report",
        [[{ uuid: worker.uuid, attempt: worker.attempt, state: "progress", progress }]]);
}

// The success of an attempt the reaper had given up on, reaching Odoo late (within its lease).
async function workerReportsLateSuccess() {
    const worker = JSON.parse(await callKw("ir.config_parameter", "get_param", ["smart_dairy_jobs.live_tour_worker"]));
    return asTheWorker("smart_dairy.job", "bridge_report",
        [[{ uuid: worker.late_uuid, attempt: 1, state: "success", at: worker.late_at, result: "{}", runtime: 0.5 }]]);
}

function openJobs() {
    return {
        content: "Jobs",
        trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job']",
        run: "click",
    };
}

function openDashboard(menu, content) {
    return [
        { trigger: ".o_main_navbar button:contains('Dashboard'), .o_main_navbar a:contains('Dashboard')", run: "click" },
        {
            content,
            trigger: `.dropdown-menu a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_jobs_dashboard_${menu}']`,
            run: "click",
        },
    ];
}

// Were the page loaded again, the mark set at the start would be gone: what changed came over the bus.
function samePage(content) {
    return {
        content,
        trigger: "body",
        run: () => {
            if (!window.sdjLiveTourPage) {
                throw new Error("the page was loaded again");
            }
        },
    };
}

// The queue dashboard, the worker list and someone else's job form change as jobs, workers and
// reports land, without a reload and without polling (the job form polls only without a websocket:
// this tour runs with one, see tests/test_live_tour.py).
registry.category("web_tour.tours").add("smart_dairy_jobs_live_tour", {
    url: "/odoo",
    steps: () => [
        ...openJobsApp(),
        ...openDashboard("queues", "Queues"),
        {
            content: "The tour's queue waits for nothing",
            trigger: ".o_kanban_record:contains('celery:live-tour'):contains('Waiting: 0')",
            run: () => {
                window.sdjLiveTourPage = true;
            },
        },
        {
            content: "Someone dispatches a job onto it",
            trigger: ".o_kanban_view",
            run: async () => callKw("smart_dairy.job", "dispatch", ["smart_dairy.health.ping"], { queue: "celery:live-tour" }),
        },
        { content: "Its card counts it", trigger: ".o_kanban_record:contains('celery:live-tour'):contains('Waiting: 1')" },
        samePage("The dashboard was not loaded again"),
        ...openDashboard("workers", "Workers"),
        {
            content: "A new worker beats for the first time",
            trigger: ".o_breadcrumb:contains('Workers')",
            run: async () => asTheWorker("smart_dairy.job.bridge", "bridge_heartbeat", [{
                hostname: "live-tour@farm", queues: ["celery"], pool: "prefork", concurrency: 2, interval: 10,
            }]),
        },
        {
            content: "It shows, online",
            trigger: ".o_list_view .o_data_row:contains('live-tour@farm') .o_field_badge:contains('Online')",
        },
        openJobs(),
        {
            content: "Open a job given up on (failed, lost worker), dispatched by someone else",
            trigger: ".o_list_view .o_data_row:contains('Failure') td[name='task_name']",
            run: "click",
        },
        { trigger: ".o_form_view .o_statusbar_status button[aria-checked='true']:contains('Failure')" },
        {
            content: "Its worker's success comes in late",
            trigger: ".o_form_view .o_statusbar_status",
            run: async () => workerReportsLateSuccess(),
        },
        {
            content: "The form shows it succeeded (a finished job is never polled)",
            trigger: ".o_form_view .o_statusbar_status button[aria-checked='true']:contains('Success')",
        },
        openJobs(),
        {
            content: "Open the running job, dispatched by someone else",
            trigger: ".o_list_view .o_data_row:contains('Started') td[name='task_name']",
            run: "click",
        },
        { content: "Progress 10 %", trigger: ".o_form_view .o_field_sdj_live_progressbar:contains('10')" },
        {
            content: "The worker reports 60 %",
            trigger: ".o_form_view .o_field_sdj_live_progressbar",
            run: async () => workerReportsProgress(60),
        },
        { content: "The bar moves", trigger: ".o_form_view .o_field_sdj_live_progressbar:contains('60')" },
        samePage("Nothing was loaded again"),
    ],
});
