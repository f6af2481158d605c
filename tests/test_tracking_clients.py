"""The tracking API with the official client libraries, against a real ``kizuna serve``
(a subprocess on a loopback port, an SQLite file): Segment's Python library with and
without gzip, RudderStack's Python SDK (gzip by default) and Segment's Node library each
deliver 300 events exactly once and get Kizuna's errors reported back to the
application. Also on the live server: compression bombs, CORS, and a key revoked while
two servers hold it in their caches.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.tracking_server import KizunaServer

CLIENTS = Path(__file__).resolve().parent / "clients"
EVENTS = 300


@pytest.fixture(scope="module")
def kizuna(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KizunaServer]:
    server = KizunaServer(tmp_path_factory.mktemp("tracking"), tracking_origins="http://localhost:9")
    server.url = server.serve()  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def stored_once(kizuna: KizunaServer, key: str, event: str = "Report Created") -> list[str]:
    """The message ids of ``event`` stored for this key; asserts none is stored twice."""
    source = f"key:{kizuna.key_id(key)}"
    ids = [m for (m,) in kizuna.rows("SELECT message_id FROM usage_events WHERE source = ? AND event = ?",
                                     (source, event))]  # fmt: skip
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert not kizuna.rows("SELECT 1 FROM ingest_parked WHERE source = ?", (source,)), "events were parked"
    return ids


def send_python(module: str, kizuna: KizunaServer, key: str, account: str, **options: Any) -> list[Any]:
    """300 track calls (after a group and an identify) with a Python library; the errors it reported."""
    if module == "segment":
        from segment.analytics import Client
    else:
        from rudderstack.analytics import Client  # type: ignore[no-redef]
    errors: list[Any] = []
    client = Client(key, host=kizuna.url, on_error=lambda e, batch: errors.append(e), max_retries=2,  # type: ignore[attr-defined]
                    **options)  # fmt: skip
    user = f"{account}-user"
    client.group(user, account, traits={"name": f"{account} 株式会社", "employees": 40})
    client.identify(user, traits={"name": "山田 花子", "email": "hanako@example.co.jp"}, context={"groupId": account})
    for i in range(EVENTS):
        client.track(user, "Report Created", {"n": i}, context={"groupId": account})
    client.flush()
    client.join()
    return errors


def refused_python(module: str, kizuna: KizunaServer, key: str, **options: Any) -> list[Any]:
    """One event Kizuna refuses (an event name over 200 characters); what the library reported."""
    if module == "segment":
        from segment.analytics import Client
    else:
        from rudderstack.analytics import Client  # type: ignore[no-redef]
    errors: list[Any] = []
    client = Client(key, host=kizuna.url, on_error=lambda e, batch: errors.append(e), max_retries=1,  # type: ignore[attr-defined]
                    **options)  # fmt: skip
    client.track("someone", "x" * 300, context={"groupId": "ACC-X"})
    client.flush()
    client.join()
    return errors


@pytest.mark.parametrize(
    ("module", "options"),
    [("segment", {}), ("segment", {"gzip": True}), ("rudderstack", {}), ("rudderstack", {"gzip": False})],
    ids=["segment", "segment-gzip", "rudderstack-gzip", "rudderstack-plain"],
)
def test_python_libraries_deliver_300_events_exactly_once_and_hear_the_errors(
    kizuna: KizunaServer, module: str, options: dict[str, Any]
) -> None:
    key = kizuna.key(name=f"{module}{options}")
    account = f"ACC-{module}-{len(options)}-{options.get('gzip')}"
    assert send_python(module, kizuna, key, account, **options) == []
    assert len(stored_once(kizuna, key)) == EVENTS
    assert kizuna.rows("SELECT name, employee_count FROM accounts WHERE external_id = ?", (account,)) == [
        (f"{account} 株式会社", 40)
    ]
    # sent again (a retried flush: same message ids would be duplicates; these are new calls)
    assert send_python(module, kizuna, key, account, **options) == []
    assert len(stored_once(kizuna, key)) == 2 * EVENTS

    # errors come back to the application with Kizuna's code and message, not a KeyError
    [bad] = refused_python(module, kizuna, key, **options)
    assert (bad.status, bad.code) == (400, "invalid_value")
    assert bad.message == "batch[0].event: longer than 200 characters"
    [unknown] = refused_python(module, kizuna, "kz_00000000_not-a-key", **options)
    assert (unknown.status, unknown.code) == (401, "not_authenticated")
    assert unknown.message == "unknown or revoked API key"


def test_segments_node_library_delivers_300_events_exactly_once(kizuna: KizunaServer) -> None:
    node = shutil.which("node")
    assert node is not None, "node (v20) is needed"
    assert (CLIENTS / "node_modules" / "@segment" / "analytics-node").is_dir(), (
        "run `npm ci` in tests/clients (make test does)"
    )
    key = kizuna.key(name="node")

    def send(write_key: str, mode: str) -> list[dict[str, str]]:
        done = subprocess.run([node, "send.mjs", kizuna.url, write_key, str(EVENTS), mode], cwd=CLIENTS,  # type: ignore[attr-defined]
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])["errors"]  # type: ignore[no-any-return]

    assert send(key, "good") == []
    assert len(stored_once(kizuna, key)) == EVENTS
    assert kizuna.rows("SELECT name FROM accounts WHERE external_id = 'ACC-NODE'") == [("Node Inc.",)]
    # the Node library reports a refused batch as a delivery failure with the status
    [bad] = send(key, "bad")
    assert bad["code"] == "delivery_failure"
    assert "400" in bad["reason"], bad
    [stranger] = send("kz_00000000_not-a-key", "bad")
    assert stranger["code"] == "delivery_failure"
    assert "401" in stranger["reason"], stranger


# --- compressed bodies -------------------------------------------------------------------------


def _zeros_gzip(megabytes: int) -> Iterator[bytes]:
    """A gzip stream of ``megabytes`` MiB of zeros in one member, made and sent piece by piece."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    for _ in range(megabytes):
        piece = packer.compress(block)
        if piece:
            yield piece
    yield packer.flush()


def _zeros_gzip_members(megabytes: int) -> Iterator[bytes]:
    """The same as gzip members of 1 MiB each, one after the other (as gzip allows): quick to make."""
    member = gzip.compress(bytes(1 << 20), 9)
    for _ in range(megabytes):
        yield member


def _post_chunked(url: str, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[int, Any]:
    """POST with ``Transfer-Encoding: chunked`` (no Content-Length: the server must count)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest("POST", path)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for chunk in chunks:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole bomb was sent
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_gzip_and_deflate_bodies_are_decoded_and_bombs_get_413_with_flat_memory(kizuna: KizunaServer) -> None:
    key = kizuna.key(name="bombs")
    headers = {**basic(key), "Content-Type": "application/json"}
    body = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "Zip", "messageId": f"z{i}",
                                  "context": {"groupId": "ACC-ZIP"}} for i in range(50)]}).encode()  # fmt: skip
    r = requests.post(f"{kizuna.url}/v1/batch", data=gzip.compress(body),  # type: ignore[attr-defined]
                      headers={**headers, "Content-Encoding": "gzip"}, timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["parked"]) == (200, 50), r.text
    r = requests.post(f"{kizuna.url}/v1/batch", data=zlib.compress(body.replace(b'"z', b'"d')),  # type: ignore[attr-defined]
                      headers={**headers, "Content-Encoding": "deflate"}, timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["parked"]) == (200, 50), r.text
    r = requests.post(f"{kizuna.url}/v1/batch", data=body, headers={**headers, "Content-Encoding": "br"}, timeout=30)  # type: ignore[attr-defined]
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type"
    assert "'br' is not supported" in r.json()["message"]
    r = requests.post(f"{kizuna.url}/v1/batch", data=gzip.compress(body)[:-30],  # type: ignore[attr-defined]
                      headers={**headers, "Content-Encoding": "gzip"}, timeout=30)  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (400, "bad_request")
    assert len(kizuna.rows("SELECT 1 FROM ingest_parked WHERE group_id = 'ACC-ZIP'")) == 100

    server = kizuna.processes[0]
    before = kizuna.pid_rss_kib(server)
    # 1 GiB of zeros, about 1 MB compressed, streamed without Content-Length
    status, answer = _post_chunked(kizuna.url, "/v1/batch", {**headers, "Content-Encoding": "gzip"},  # type: ignore[attr-defined]
                                   _zeros_gzip_members(1024))  # fmt: skip
    assert (status, answer["code"]) == (413, "payload_too_large"), answer
    # 100 MiB of zeros in one gzip member, in a body under the wire limit (Content-Length: about 100 KB)
    small_bomb = b"".join(_zeros_gzip(100))
    assert len(small_bomb) < 500 * 1024
    r = requests.post(f"{kizuna.url}/v1/batch", data=small_bomb,  # type: ignore[attr-defined]
                      headers={**headers, "Content-Encoding": "gzip"}, timeout=60)  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    assert r.json()["message"] == "the request body is larger than 512,000 bytes"
    grown = kizuna.pid_rss_kib(server) - before
    assert grown < 20 * 1024, f"the server grew by {grown} KiB"
    # and it still serves
    r = requests.post(f"{kizuna.url}/v1/batch", data=gzip.compress(body.replace(b'"z', b'"y')),  # type: ignore[attr-defined]
                      headers={**headers, "Content-Encoding": "gzip"}, timeout=30)  # fmt: skip
    assert r.status_code == 200


# --- CORS ----------------------------------------------------------------------------------------


def test_cors_on_v1_only_for_the_configured_origins_and_never_with_credentials(kizuna: KizunaServer) -> None:
    key = kizuna.key(name="browser")
    url = kizuna.url  # type: ignore[attr-defined]
    preflight = {"Origin": "http://localhost:9", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    r = requests.options(f"{url}/v1/t", headers=preflight, timeout=30)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:9"
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "content-encoding"} <= allowed
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in r.headers

    event = {"userId": "u", "event": "From Browser", "messageId": "cors-1", "context": {"groupId": "ACC-WEB"}}
    r = requests.post(f"{url}/v1/t", json=event, headers={**basic(key), "Origin": "http://localhost:9"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:9"
    assert "Access-Control-Allow-Credentials" not in r.headers
    # errors are readable by the page too
    r = requests.post(f"{url}/v1/t", json=event, headers={"Origin": "http://localhost:9"}, timeout=30)
    assert (r.status_code, r.headers["Access-Control-Allow-Origin"]) == (401, "http://localhost:9")

    # another origin: refused before anything is stored, preflight or not
    other = {**basic(key), "Origin": "https://evil.example"}
    r = requests.options(f"{url}/v1/t", headers={**preflight, "Origin": "https://evil.example"}, timeout=30)
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.post(f"{url}/v1/t", json={**event, "messageId": "cors-2"}, headers=other, timeout=30)
    assert (r.status_code, r.json()["code"]) == (403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in r.headers
    assert [m for m, _e in kizuna.events() if m.startswith("cors-")] == ["cors-1"]

    # not on the rest of the app
    r = requests.options(f"{url}/api/accounts", headers=preflight, timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.get(f"{url}/api/accounts", headers={"Origin": "http://localhost:9"}, timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers


# --- revocation --------------------------------------------------------------------------------


def test_a_revoked_key_is_refused_at_once_by_every_server_on_the_store(
    kizuna: KizunaServer, tmp_path: Path
) -> None:
    ingest = kizuna.key(name="revoked-ingest")
    reader = kizuna.key(scope="read", name="revoked-read")
    second = kizuna.serve()  # another server on the same store, with its own key cache
    first: str = kizuna.url  # type: ignore[attr-defined]
    event: Callable[[int], dict[str, Any]] = lambda i: {  # noqa: E731
        "userId": "u", "event": "Kept", "messageId": f"rev-{i}", "context": {"groupId": "ACC-REV"}}
    for i, base in enumerate((first, second, first, second)):  # both have the key in their caches
        r = requests.post(f"{base}/v1/track", json=event(i), headers=basic(ingest), timeout=30)
        assert r.status_code == 200, r.text
    r = requests.get(f"{first}/api/accounts", headers={"Authorization": f"Bearer {reader}"}, timeout=30)
    assert r.status_code == 200

    kizuna.cli("apikey", "revoke", str(kizuna.key_id(ingest)))
    kizuna.cli("apikey", "revoke", str(kizuna.key_id(reader)))
    for i, base in enumerate((first, second), start=10):
        r = requests.post(f"{base}/v1/track", json=event(i), headers=basic(ingest), timeout=30)
        assert (r.status_code, r.json()["code"]) == (401, "not_authenticated"), base
        r = requests.get(f"{base}/api/accounts", headers={"Authorization": f"Bearer {reader}"}, timeout=30)
        assert (r.status_code, r.json()["errors"][0]["code"]) == (401, "not_authenticated"), base
    assert sorted(m for m, _e in kizuna.events() if m.startswith("rev-")) == ["rev-0", "rev-1", "rev-2", "rev-3"]
