/** @odoo-module **/
import { stepUtils } from "@web_tour/tour_service/tour_utils";

export function openJobsApp() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Jobs app",
            trigger: ".o_app[data-menu-xmlid='smart_dairy_jobs.menu_smart_dairy_jobs_root']",
            run: "click",
        },
    ];
}
