/** @odoo-module **/
import { registry } from "@web/core/registry";
import { openJobsApp } from "@smart_dairy_jobs/tours/tour_steps";

async function rpc(url, params) {
    const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "call", params }),
    });
    return (await response.json()).result;
}

// What a worker does: report the job's progress over RPC as the bridge user (the test put its key in
// a system parameter). Job fields are the system's: nobody writes them from a form or a raw call.
async function workerReportsProgress(progress) {
    const worker = JSON.parse(await rpc("/web/dataset/call_kw/ir.config_parameter/get_param", {
        model: "ir.config_parameter", method: "get_param", args: ["smart_dairy_jobs.tour_worker"], kwargs: {},
    }));
    await rpc("/jsonrpc", {
        service: "object", method: "execute_kw",
        args: [worker.db, worker.uid, worker.key, "smart_dairy.job", "bridge_report",
               [[{ uuid: worker.uuid, attempt: worker.attempt, state: "progress", progress }]]],
    });
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

// An operator checks the health of background work: dashboard, queue kanban, a failing job, workers,
// and watches a long job's progress move without reloading the page.
registry.category("web_tour.tours").add("smart_dairy_jobs_monitoring_tour", {
    url: "/odoo",
    steps: () => [
        ...openJobsApp(),
        ...openDashboard("queues", "Queues"),
        {
            content: "The queue kanban shows depth and failure rate",
            trigger: ".o_kanban_view .o_kanban_record:contains('celery:iot'):contains('Waiting')",
        },
        ...openDashboard("analysis", "Jobs analysis (graph)"),
        { content: "The graph is drawn", trigger: ".o_graph_view .o_graph_renderer canvas" },
        ...openDashboard("workers", "Workers"),
        { content: "A silent worker shows offline", trigger: ".o_list_view .o_data_row:contains('tour-worker@farm') .o_field_badge:contains('Offline')" },
        {
            content: "Jobs",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job']",
            run: "click",
        },
        { trigger: ".o_searchview_input", run: "edit smart_dairy.health.fail" },
        { trigger: ".o_searchview_input", run: "press Enter" },
        {
            content: "Open the failed job",
            trigger: ".o_list_view .o_data_row:contains('Failure') td[name='task_name']",
            run: "click",
        },
        { content: "Its error is shown", trigger: ".o_form_view .o_notebook a:contains('Error')", run: "click" },
        { trigger: ".o_form_view .o_field_widget[name='error_message']:contains('ear tag')" },
        { trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job']", run: "click" },
        {
            content: "Open the running report",
            trigger: ".o_list_view .o_data_row:contains('Started') td[name='task_name']",
            run: "click",
        },
        { content: "Progress 10 %", trigger: ".o_form_view .o_field_sdj_live_progressbar:contains('10')" },
        {
            content: "The worker reports 50 % (written behind the page's back)",
            trigger: ".o_form_view .o_field_sdj_live_progressbar",
            run: async () => workerReportsProgress(50),
        },
        { content: "The bar moves by itself", trigger: ".o_form_view .o_field_sdj_live_progressbar:contains('50')" },
    ],
});
