"""Activity is never lost silently (issue 21): a deleted data dir, a file that cannot be written, a WAL that grew.

Real server processes, real files. Tests run as root, which file permissions do not stop, so "read-only"
is made with the immutable attribute (`chattr +i`), which stops root too (ext4 here).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import httpx
import openai
import pytest

from api.store.activity import COLUMNS, FILE_NAME, WAL_LIMIT, prepare
from tests.conftest import gateway_config
from tests.gateway import ROOT, SERVER_KEY, free_port, start_gateway, wait_until, write_config

ADMIN = {"X-API-Key": SERVER_KEY}


@pytest.fixture
def gateway(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams, workers=1), tmp_path)
    yield server
    if server.process.returncode is None:
        server.stop()


def chat(server, run: str, count: int) -> None:
    client = openai.OpenAI(base_url=server.openai_url, api_key=SERVER_KEY, max_retries=0)
    for i in range(count):
        client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"X-Request-Id": f"{run}-{i}"})


def stored(path, run: str) -> int:
    """Records of `run` in the file itself (0 when there is no file)."""
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM activity WHERE request_id LIKE ?",
                                      (f"{run}-%",)).fetchone()[0]
        except sqlite3.OperationalError:  # being created
            return 0


def activity_health(server) -> dict:
    return httpx.get(f"{server.base_url}/admin/status", headers=ADMIN).json()["activity"]


def chattr(flag: str, path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True)


def test_a_deleted_data_dir_is_created_again_and_recording_resumes(gateway, tmp_path):
    path = tmp_path / "data" / FILE_NAME
    chat(gateway, "before", 2)
    wait_until(lambda: stored(path, "before") == 2, 5, "the first records")
    shutil.rmtree(path.parent)
    chat(gateway, "after", 3)
    answers = set()

    def admin_answers() -> bool:
        for endpoint in ("/admin/activity", "/admin/usage"):
            answers.add(httpx.get(f"{gateway.base_url}{endpoint}", headers=ADMIN).status_code)
        return stored(path, "after") == 3

    wait_until(admin_answers, 5, "the records made after the data dir was deleted, in a new file")
    assert answers <= {200, 503}
    page = httpx.get(f"{gateway.base_url}/admin/activity", headers=ADMIN)
    assert page.status_code == 200 and {row["request_id"] for row in page.json()["data"]} == {
        "after-0", "after-1", "after-2"}
    health = activity_health(gateway)
    assert health["recording"] and "deleted" in health["problem"] and health["since"] and health["lost_records"] == 0
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert gateway.stop().count("activity recording resumed after: the activity file was deleted") == 1


def test_records_wait_while_the_file_cannot_be_written_and_are_written_once_it_can(gateway, tmp_path):
    data = tmp_path / "data"
    chat(gateway, "before", 1)
    wait_until(lambda: stored(data / FILE_NAME, "before") == 1, 5, "the first record")
    data.rename(tmp_path / "old-data")
    data.mkdir()
    chattr("+i", data)
    try:
        chat(gateway, "held", 3)
        wait_until(lambda: not activity_health(gateway)["recording"], 5, "recording reported as stopped")
        assert "cannot write" in activity_health(gateway)["problem"]
        missing = httpx.get(f"{gateway.base_url}/admin/activity", headers=ADMIN)
        assert missing.status_code == 503
        assert missing.json()["error"]["code"] == "activity_unavailable"
    finally:
        chattr("-i", data)
    wait_until(lambda: stored(data / FILE_NAME, "held") == 3, 5, "the held records, written once it could be")
    health = activity_health(gateway)
    assert health["recording"] and "cannot write" in health["problem"] and health["lost_records"] == 0
    output = gateway.stop()
    assert output.count("activity is not being recorded") == 1
    assert output.count("activity recording resumed after") == 1
    assert "Traceback" not in output


def test_an_existing_activity_file_that_cannot_be_written_stops_the_server_at_start(upstreams, tmp_path):
    data = tmp_path / "data"
    prepare(data)
    config = write_config(gateway_config(upstreams), tmp_path, free_port())
    chattr("+i", data / FILE_NAME)
    try:
        server = subprocess.Popen([sys.executable, "-m", "api", "--config", str(config)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _, errors = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.communicate()
            pytest.fail("the server started on an activity file it cannot write")
    finally:
        chattr("-i", data / FILE_NAME)
    assert server.returncode == 2
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and "cannot keep the activity database" in lines[0] and "readonly" in lines[0]


def test_the_wal_shrinks_back_after_a_reader_held_it_open(gateway, tmp_path):
    path = tmp_path / "data" / FILE_NAME
    chat(gateway, "seed", 1)
    wait_until(lambda: stored(path, "seed") == 1, 5, "a record")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM activity").fetchone()
    writer = sqlite3.connect(path, isolation_level=None, timeout=10)
    writer.row_factory = sqlite3.Row
    row = dict(writer.execute("SELECT * FROM activity WHERE request_id = 'seed-0'").fetchone())
    row["error"] = "x" * 10_000
    insert = f"INSERT INTO activity ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    for _ in range(30):
        writer.execute("BEGIN")
        writer.executemany(insert, [[row[column] for column in COLUMNS]] * 100)
        writer.execute("COMMIT")
    writer.close()
    wal = f"{path}-wal"
    assert os.path.getsize(wal) > 3 * WAL_LIMIT
    reader.execute("COMMIT")
    reader.close()
    wait_until(lambda: os.path.getsize(wal) <= WAL_LIMIT, 6, "the WAL back under its limit")
