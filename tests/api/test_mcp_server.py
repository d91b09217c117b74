"""`newsroom mcp` through the official SDK's client, over stdio and streamable HTTP, with a restricted desk."""
from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from conftest import start_app
from edge_world import APOLLO, EMBARGOED, EMBEDDERS, PASSWORDS, RESTRICTED, RESTRICTED_ID, build_world, leaks

TOOLS = {"search", "ask", "check_claim", "find_quote", "coverage"}
# One call of every tool that would reach the restricted desk or the embargoed article if it could.
PROBES = [("search", {"query": APOLLO, "k": 10}), ("search", {"query": "Grissom Chaffee"}),
          ("ask", {"question": APOLLO}), ("ask", {"question": "Who discovered oxygen?"}),
          ("check_claim", {"claim": "Grissom, White and Chaffee named their flight Apollo 1"}),
          ("find_quote", {"words": "Grissom, White, and Chaffee"}), ("find_quote", {"words": "Oxygen was discovered"}),
          ("coverage", {"query": "Apollo 1 launch"})]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("mcp"))


async def _calls(client: Client, probes: list[tuple[str, dict]]) -> list[dict]:
    out = []
    for name, args in probes:
        result = await client.call_tool(name, args)
        assert not result.is_error, (name, result.content)
        out.append(json.loads(result.content[0].text))
    return out


async def _holdings(client: Client) -> dict:
    return json.loads((await client.read_resource("newsroom://holdings")).contents[0].text)


def _leaked(results: list[dict], holdings: dict) -> list[str]:
    """What the restricted or embargoed articles gave away in the answers to PROBES and the holdings."""
    found = leaks(json.dumps(holdings), RESTRICTED + EMBARGOED)
    for (_, args), result in zip(PROBES, results):
        sent = tuple(v for v in args.values() if isinstance(v, str))
        found += leaks(json.dumps(result, ensure_ascii=False), RESTRICTED + EMBARGOED, sent)
    return found


def _stdio(world, *args: str, env: dict[str, str] | None = None) -> Client:
    return Client(StdioServerParameters(command=sys.executable, args=["-m", "assistant.cli", "mcp", *args],
                                        env=world.env(**(env or {}))), read_timeout_seconds=180)


def test_stdio_runs_as_the_configured_user_or_sees_all_with_logins_off(world):
    async def alice():
        async with _stdio(world, "--user", "alice") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOLS and all("Returns" in t.description for t in tools.values())
            assert {r.uri for r in (await client.list_resources()).resources} == {"newsroom://holdings"}
            results = await _calls(client, PROBES)
            bad = await client.call_tool("search", {"query": "x", "since": "soon"})
            return results, await _holdings(client), bad

    results, holdings, bad = asyncio.run(alice())
    assert results[0]["results"] and not _leaked(results, holdings)
    assert holdings and json.dumps(holdings).count("Wikipedia (XQuAD)") >= 1
    assert bad.is_error and "since" in bad.content[0].text

    async def logins_off():  # the control: with logins off, stdio sees every collection (not the embargo)
        async with _stdio(world, env={"NEWSROOM_AUTH": "off"}) as client:
            return await _calls(client, [("search", {"query": APOLLO, "k": 3}), ("ask", {"question": APOLLO})])

    search, answer = asyncio.run(logins_off())
    assert search["results"][0]["article_id"] == RESTRICTED_ID
    assert answer["citations"][0]["article_id"] == RESTRICTED_ID and not answer["abstained"]
    assert not leaks(json.dumps([search, answer]), EMBARGOED)


def test_stdio_needs_a_user_when_logins_are_on_and_the_store_to_itself(world):
    def mcp(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "assistant.cli", "mcp", *args], env=world.env(**env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    for args, expected in (([], "--user NAME"), (["--user", "mallory"], "no user 'mallory'")):
        done = mcp(*args)
        assert done.returncode == 2 and expected in done.stderr and done.stdout == ""
    from assistant.service import Assistant
    from assistant.settings import load_settings

    holder = Assistant(load_settings(env={}, data_dir=str(world.data), embedders=EMBEDDERS, ingest_workers=0))
    try:
        holder.store  # as a running `newsroom serve` holds it
        done = mcp(NEWSROOM_AUTH="off")
        assert done.returncode == 3 and "its own NEWSROOM_DATA_DIR" in done.stderr
    finally:
        holder.close()


@pytest.mark.parametrize("where", ["newsroom mcp --transport http", "the app at /mcp"])
def test_http_requires_logins_and_applies_each_users_collections(world, where):
    if where == "the app at /mcp":
        proc, base = start_app(world.env())
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "mcp", "--transport", "http", "--port", str(port)],
                                env=world.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
    url = f"{base}/mcp"
    try:
        deadline = time.time() + 180
        while True:
            try:
                anonymous = httpx.post(url, json={}, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.time() < deadline, "the MCP server did not start"
                time.sleep(0.3)
        assert anonymous.status_code == 401 and "log in" in anonymous.json()["error"]
        assert httpx.post(url, json={}, auth=("alice", "wrong")).status_code == 401

        async def session(login: dict, probes: list[tuple[str, dict]]) -> tuple[list[dict], dict]:
            async with httpx2.AsyncClient(**login, timeout=180) as http:  # as in the README
                async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=180) as client:
                    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                    return await _calls(client, probes), await _holdings(client)

        results, holdings = asyncio.run(session({"auth": ("alice", PASSWORDS["alice"])}, PROBES))
        assert results[0]["results"] and not _leaked(results, holdings)
        bearer = {"headers": {"Authorization": f"Bearer editor:{PASSWORDS['editor']}"}}
        (search,), holdings = asyncio.run(session(bearer, [("search", {"query": APOLLO, "k": 3})]))
        assert search["results"][0]["article_id"] == RESTRICTED_ID and "Secret Desk Wire" in json.dumps(holdings)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
