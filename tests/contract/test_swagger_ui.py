"""`/api-docs` in a real headless Chromium (Debian's `chromium`), driven over the DevTools protocol: Swagger UI 5
reads the OpenAPI 3.1 document offline, lists the operations, and "Try it out" on `/health` shows its answer."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess

import aiohttp

from tests.gateway import answers, free_port, wait_until

TRY_HEALTH = """(async () => {
  const until = async (find) => { for (let i = 0; i < 150; i++) { const x = find(); if (x) return x;
                                  await new Promise(r => setTimeout(r, 100)); } throw new Error(String(find)); };
  const operations = await until(() => document.querySelectorAll('.opblock').length > 10 &&
                                        document.querySelectorAll('.opblock'));
  const health = document.querySelector('#operations-health-getHealth');
  (health.querySelector('.opblock-summary-control') || health.querySelector('.opblock-summary')).click();
  (await until(() => health.querySelector('.try-out__btn'))).click();
  (await until(() => health.querySelector('.execute'))).click();
  const status = await until(() => health.querySelector('.live-responses-table .response .response-col_status'));
  const body = await until(() => health.querySelector('.live-responses-table .microlight'));
  return JSON.stringify({operations: operations.length, status: status.textContent.trim(),
                         body: body.textContent});
})()"""


async def evaluate(debugger: str, url: str, expression: str) -> dict:
    """Opens `url` in a new tab of the browser at `debugger` and returns what `expression` resolves to."""
    ids = itertools.count(1)
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{debugger}/json/new?{url}") as answer:
            tab = await answer.json(content_type=None)
        async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            await ws.send_json({"id": next(ids), "method": "Page.enable"})
            while (await ws.receive_json()).get("method") != "Page.loadEventFired":
                pass
            call = next(ids)
            await ws.send_json({"id": call, "method": "Runtime.evaluate",
                                "params": {"expression": expression, "awaitPromise": True, "returnByValue": True}})
            while (message := await ws.receive_json()).get("id") != call:
                pass
    result = message["result"]
    assert "exceptionDetails" not in result, result["exceptionDetails"]
    return json.loads(result["result"]["value"])


def test_swagger_ui_lists_operations_and_tries_health(gateway, tmp_path):
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is needed: apt-get install -y chromium"
    port = free_port()
    process = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                f"--remote-debugging-port={port}", f"--user-data-dir={tmp_path}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        debugger = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{debugger}/json/version"), 30, "chromium's DevTools endpoint", process)
        seen = asyncio.run(asyncio.wait_for(evaluate(debugger, f"{gateway.base_url}/api-docs", TRY_HEALTH), 60))
    finally:
        process.terminate()
        process.wait(10)
    assert seen["operations"] >= 20, seen  # Swagger UI 4 lists none: it cannot read OpenAPI 3.1
    assert seen["status"] == "200" and json.loads(seen["body"])["status"] == "ok", seen

