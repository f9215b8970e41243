/** @odoo-module **/
import { registry } from "@web/core/registry";
import { openJobsApp } from "@smart_dairy_jobs/tours/tour_steps";

// An operator opens the Jobs app, finds a finished ping and reads its result.
registry.category("web_tour.tours").add("smart_dairy_jobs_tour", {
    url: "/odoo",
    steps: () => [
        ...openJobsApp(),
        {
            content: "The app opens on the queue dashboard",
            trigger: ".o_kanban_view .o_kanban_record:contains('celery:payment')",
        },
        {
            content: "Open the job list",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job']",
            run: "click",
        },
        {
            content: "The list shows the job with a Success badge",
            trigger: ".o_list_view .o_data_row:contains('smart_dairy.health.ping') .o_field_badge:contains('Success')",
        },
        {
            content: "Open the job",
            trigger: ".o_list_view .o_data_row td[name='task_name']:contains('smart_dairy.health.ping')",
            run: "click",
        },
        {
            content: "The form shows the state reached",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Success')",
        },
        {
            content: "The form shows the duration",
            trigger: ".o_form_view .o_field_widget[name='duration']:contains('0.042')",
        },
        {
            content: "The result is on its own page",
            trigger: ".o_form_view .o_field_widget[name='result_json']:contains('pong')",
        },
    ],
});
