/** @odoo-module **/
import { registry } from "@web/core/registry";

// An operator opens a chord's callback, waiting for its group, and reads its flow: what it waits for,
// what it will receive, and the graph of the whole flow.
registry.category("web_tour.tours").add("smart_dairy_jobs_flow_tour", {
    steps: () => [
        {
            content: "The callback waits for its dependencies",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Waiting for dependencies')",
        },
        {
            content: "Open its dependencies",
            trigger: ".o_form_view .o_notebook a.nav-link:contains('Dependencies')",
            run: "click",
        },
        {
            content: "It waits for the two jobs of its group, one done, one not",
            trigger: ".o_field_widget[name='depends_on_ids'] .o_data_row:contains('Success') ~ .o_data_row:contains('Pending'), .o_field_widget[name='depends_on_ids'] .o_data_row:contains('Pending') ~ .o_data_row:contains('Success')",
        },
        {
            content: "The result of the finished one is what it will receive so far",
            trigger: ".o_field_widget[name='dependency_results_display']:contains('pong')",
        },
        {
            content: "The flow is drawn",
            trigger: ".o_field_widget[name='dependency_graph'] canvas",
        },
    ],
});
