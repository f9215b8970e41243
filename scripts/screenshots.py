"""Take the README's screenshots from a running system (scripts/run-system.sh) in headless Chromium.

    python scripts/screenshots.py --url http://127.0.0.1:8069 --out docs [--demo]

Logs in as admin (ODOO_CLIENT_PASSWORD, default the fresh database's admin), opens the queue
dashboard and a job form, and saves PNGs. Drives Chromium over its DevTools protocol.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

PAGES = {
    "dashboard-queues.png": "/odoo/action-smart_dairy_jobs.smart_dairy_job_queue_action",
    "workers.png": "/odoo/action-smart_dairy_jobs.smart_dairy_job_worker_action",
}
# With scripts/demo_data.py run first:
DEMO_PAGES = {
    "iot-devices.png": "/odoo/action-smart_dairy_iot.smart_dairy_iot_device_action",
    "iot-alerts.png": "/odoo/action-smart_dairy_iot.smart_dairy_iot_alert_action",
    "iot-daily-production.png": "/odoo/action-smart_dairy_iot.smart_dairy_iot_milk_production_action",
    "payments.png": "/odoo/action-smart_dairy_operations.smart_dairy_payment_action",
}


class Browser:
    def __init__(self, port=9333):
        self.profile = tempfile.mkdtemp(prefix="sdj-chromium-")
        self.process = subprocess.Popen(
            [shutil.which("chromium") or "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={self.profile}", f"--remote-debugging-port={port}",
             "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as response:
                    target = next(t for t in json.load(response) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                         returnByValue=True).get("result", {}).get("value")

    def wait_for(self, selector, timeout=30):
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!document.querySelector({json.dumps(selector)})"):
            if time.monotonic() > deadline:
                raise TimeoutError(selector)
            time.sleep(0.2)

    def goto(self, url):
        self.call("Page.navigate", url=url)

    def screenshot(self, path):
        time.sleep(1.0)  # let charts and fonts settle: this is a picture, not a test
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    def close(self):
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--out", default="docs")
    parser.add_argument("--job", type=int, help="job id whose form to capture")
    parser.add_argument("--demo", action="store_true", help="also the Farm IoT and payment views (demo_data.py)")
    options = parser.parse_args()
    password = os.environ.get("ODOO_CLIENT_PASSWORD", "admin")
    browser = Browser()
    try:
        browser.call("Page.enable")
        browser.goto(options.url + "/web/login")
        browser.wait_for("input[name=login]")
        browser.evaluate(f"""document.querySelector('input[name=login]').value = 'admin';
            document.querySelector('input[name=password]').value = {json.dumps(password)};
            document.querySelector('form').submit();""")
        browser.wait_for(".o_main_navbar")
        pages = dict(PAGES, **(DEMO_PAGES if options.demo else {}))
        if options.job:
            pages["job-form.png"] = f"/odoo/action-smart_dairy_jobs.smart_dairy_job_action/{options.job}"
        for name, path in pages.items():
            browser.goto(options.url + path)
            browser.wait_for(".o_action_manager .o_view_controller")
            browser.screenshot(os.path.join(options.out, name))
            print("saved", os.path.join(options.out, name))
    finally:
        browser.close()


if __name__ == "__main__":
    main()
