/** @odoo-module **/
import { registry } from "@web/core/registry";
import { openJobsApp } from "@smart_dairy_jobs/tours/tour_steps";

// A Jobs manager finds a job that failed for good and requeues it once the cause is fixed.
registry.category("web_tour.tours").add("smart_dairy_jobs_dead_letter_tour", {
    url: "/odoo",
    steps: () => [
        ...openJobsApp(),
        {
            content: "Open Dead Letters",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job_dead_letter']",
            run: "click",
        },
        {
            content: "Open the failed job's entry",
            trigger: ".o_list_view .o_data_row td[name='task_name']:contains('smart_dairy.health.fail')",
            run: "click",
        },
        {
            content: "The error is shown",
            trigger: ".o_form_view .o_field_widget[name='error_message']:contains('delivery-note.csv does not exist')",
        },
        {
            content: "Secrets in the arguments are masked",
            trigger: ".o_form_view .o_field_widget[name='kwargs_display']:contains('********')",
        },
        {
            content: "Requeue it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_requeue']",
            run: "click",
        },
        {
            content: "The entry is requeued and links to the new job",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Requeued')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='requeued_job_id'] a, .o_form_view .o_field_widget[name='requeued_job_id']:contains('smart_dairy.health.fail')",
        },
    ],
});
