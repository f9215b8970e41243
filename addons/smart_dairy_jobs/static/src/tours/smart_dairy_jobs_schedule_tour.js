/** @odoo-module **/
import { registry } from "@web/core/registry";
import { openJobsApp } from "@smart_dairy_jobs/tours/tour_steps";

// An admin reviews the periodic work: the seeded schedules, an overlap warning, the schedule check.
registry.category("web_tour.tours").add("smart_dairy_jobs_schedule_tour", {
    url: "/odoo",
    steps: () => [
        ...openJobsApp(),
        {
            content: "Open Schedules",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_job_schedule']",
            run: "click",
        },
        {
            content: "The seeded B-009 schedules are listed",
            trigger: ".o_list_view .o_data_row td[name='name']:contains('Database backup')",
        },
        {
            content: "A planted overlap is flagged with the spacing wanted and what clears it",
            trigger: ".o_list_view .o_data_row:contains('Milk sync') td[name='collision_warning']:contains('min apart wanted')",
        },
        {
            content: "Check the schedules",
            trigger: "button[name='action_validate_schedules']",
            run: "click",
        },
        {
            content: "The check lists the overlap and the next runs",
            trigger: ".modal .o_field_widget[name='report']:contains('Feed sync, Milk sync')",
        },
        {
            trigger: ".modal .o_field_widget[name='report']:contains('Next runs')",
        },
    ],
});
