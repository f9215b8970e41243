/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// A clerk charges a customer's bKash payment, then asks for a milk production report.
registry.category("web_tour.tours").add("smart_dairy_operations_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open Dairy Operations",
            trigger: ".o_app[data-menu-xmlid='smart_dairy_operations.menu_smart_dairy_operations_root']",
            run: "click",
        },
        {
            content: "Open the draft payment",
            trigger: ".o_list_view .o_data_row td[name='partner_id']:contains('Tour Customer')",
            run: "click",
        },
        {
            content: "Charge it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_process']",
            run: "click",
        },
        {
            content: "It is being processed by a job",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Processing')",
        },
        {
            content: "The job is one click away",
            trigger: ".o_form_view button[name='action_view_job']",
        },
        {
            content: "Open Reports",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_operations.menu_smart_dairy_reports']",
            run: "click",
        },
        {
            content: "Ask for a new report",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Excel, please",
            trigger: ".o_form_view .o_field_widget[name='file_format'] select",
            run: 'select "xlsx"',
        },
        {
            content: "Generate it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_generate']",
            run: "click",
        },
        {
            content: "It is running",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Running')",
        },
    ],
});
