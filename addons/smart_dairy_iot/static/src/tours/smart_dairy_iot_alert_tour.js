/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

// An operator sees the tank's alert, takes it, resolves it once the cooling is fixed, then checks
// the devices' board.
registry.category("web_tour.tours").add("smart_dairy_iot_alert_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Farm IoT app",
            trigger: ".o_app[data-menu-xmlid='smart_dairy_iot.menu_smart_dairy_iot_root']",
            run: "click",
        },
        {
            content: "The tank's card shows it online",
            trigger: ".o_kanban_view .o_kanban_record:contains('Bulk tank 1') .badge:contains('Online')",
        },
        {
            content: "Its latest temperature is on the card",
            trigger: ".o_kanban_record:contains('Bulk tank 1'):contains('Milk temperature: 9.5')",
        },
        {
            content: "Open Alerts",
            trigger: ".o_main_navbar a[data-menu-xmlid='smart_dairy_iot.menu_smart_dairy_iot_alerts']",
            run: "click",
        },
        {
            content: "Open the tank's alert",
            trigger: ".o_list_view .o_data_row td[name='device_id']:contains('Bulk tank 1')",
            run: "click",
        },
        {
            content: "Acknowledge it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_acknowledge']",
            run: "click",
        },
        {
            content: "It is acknowledged",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Acknowledged')",
        },
        {
            content: "Resolve it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_resolve']",
            run: "click",
        },
        {
            content: "It is resolved",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Resolved')",
        },
    ],
});
