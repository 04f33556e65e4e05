"""The teaching dashboard in a real headless Chromium (Debian's chromium and chromium-driver).

A `yrd-2021` network of 14 node processes runs with control on (a supervisor stops and
restarts nodes for the page). The page must show 14 nodes in 8 cities, heights that advance,
a publish on the map, a stopped node turned down and back up after a restart, and cross-region
queries drawn as arcs. Screenshots of those states go to tests/e2e/artifacts/.

The page ships its own CJK webfont: every test that opens it checks that `document.fonts` reports
the font loaded and that Chromium rendered a Chinese label with it (DevTools'
`CSS.getPlatformFontsForNode` names the fonts a node's glyphs came from, and whether each is a
web font), so the check holds on machines with and without system CJK fonts. `?static` draws one
still picture, and a headless `--virtual-time-budget` screenshot of it finishes.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chain.presets import get_preset
from chain.records import ALL_KINDS_SCOPE, CreditRecord, RecordKind
from nodes.dashboard.model import build_topology
from nodes.dashboard.routes import replay_page
from tests.e2e.network import RunningNetwork, running_network
from tests.tools import missing_tool

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.print_page_options import PrintOptions  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1500,950",
)
SHIPPED_FONT = "YRD Sans SC"
SCREENSHOT_TIMEOUT_S = 90  # a --virtual-time-budget screenshot that never settles fails here
SERVING_NODE = "shanghai-1"
STOPPED_NODE = "hefei-2"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, driven by chromedriver."""
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        missing_tool("Debian's chromium and chromium-driver are not installed (make browser)")
    options = Options()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNetwork]:
    """yrd-2021 with control on: 14 node processes and a supervisor."""
    with running_network("yrd-2021", tmp_path_factory.mktemp("yrd-2021"),
                         control=True) as running:
        yield running


@pytest.fixture(scope="module")
def page(browser: Any, network: RunningNetwork) -> Any:
    """The dashboard of the network, opened once for the module's live tests."""
    token = network.member(SERVING_NODE).config.control_token
    browser.get(f"{network.url(SERVING_NODE)}/dashboard#control={token}")
    return browser


def wait_until(driver: Any, script: str, timeout_s: float, what: str) -> Any:
    """Poll a JavaScript expression until it is truthy; AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        time.sleep(0.2)
    shoot(driver, f"timeout-{what.replace(' ', '-')}")
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting until {what}")


def shoot(driver: Any, name: str) -> Path:
    """Save a screenshot into tests/e2e/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def node_attribute(driver: Any, node_id: str, name: str) -> str:
    """A data attribute of a node's dot on the map."""
    return str(driver.execute_script(
        f"return document.querySelector('g.node[data-node=\"{node_id}\"]').dataset.{name};"))


def max_height(driver: Any) -> int:
    """The highest height any node dot shows."""
    return int(driver.execute_script(
        "return Math.max(...[...document.querySelectorAll('g.node')]"
        ".map(n => Number(n.dataset.height)));"))


def assert_shipped_font_renders(driver: Any, selector: str, text: str) -> None:
    """The page's own font is loaded and Chromium drew the Chinese `text` of `selector` with it."""
    wait_until(driver, f"[...document.fonts].some(f => f.family.replace(/\"/g, '') === "
               f"'{SHIPPED_FONT}' && f.status === 'loaded')", 15, "the shipped font loads")
    assert text in driver.execute_script(
        f"return document.querySelector('{selector}').textContent")
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode",
                                   {"nodeId": node["nodeId"]})["fonts"]
    driver.execute_cdp_cmd("CSS.disable", {})
    system = [font for font in fonts if not font["isCustomFont"]]
    assert fonts and not system, f"{selector} drew glyphs with system fonts: {fonts}"
    assert sum(font["glyphCount"] for font in fonts) >= len(text)


def institution(network: RunningNetwork, label: str) -> Any:
    """A client for an institution at its home city's first node."""
    from nodes.client import Institution, NodeClient

    city = network.preset.institution(label).city
    node_id = next(n.node_id for n in network.preset.nodes if n.city == city)
    return Institution(network.preset.key(label), NodeClient(network.url(node_id)))


def test_replay_plays_a_recorded_run_without_a_server(browser: Any, tmp_path: Path) -> None:
    preset = get_preset("yrd-2021")
    start = 1_700_000_000_000
    events: list[dict[str, Any]] = [
        {"type": "status", "node": n.node_id, "city": n.city.value, "height": 411,
         "round": 0, "time_ms": start} for n in preset.nodes]
    events += [
        {"type": "commit", "node": n.node_id, "city": n.city.value, "height": 412,
         "round": 0, "transactions": 1, "time_ms": start + 100} for n in preset.nodes]
    code = preset.enterprise("enterprise:shanghai:1").credit_code.code
    events += [
        {"type": "grant", "node": "hangzhou-1", "enterprise": code,
         "enterprise_city": "shanghai", "querier_city": "hangzhou",
         "querier_name": "Hangzhou Commercial Bank", "expires_at": 1_900_000_000,
         "height": 412, "key": "g", "time_ms": start + 150},
        {"type": "query", "node": "hangzhou-1", "from_city": "hangzhou", "to_city": "shanghai",
         "enterprise": code, "verified": True, "records": 1, "outcome": "answered",
         "key": "q", "time_ms": start + 200},
        {"type": "health", "node": "taizhou-1", "health": "down", "time_ms": start + 250},
    ]
    page_file = tmp_path / "replay.html"
    page_file.write_text(replay_page({"topology": build_topology(preset), "events": events,
                                      "speed": 10}), encoding="utf-8")
    browser.get(page_file.as_uri())
    wait_until(browser, "document.body.dataset.replayDone === 'true'", 20, "the replay ends")
    assert browser.execute_script("return document.querySelectorAll('g.node').length") == 14
    assert node_attribute(browser, "taizhou-1", "health") == "down"
    assert node_attribute(browser, "hefei-2", "height") == "412"
    wait_until(browser, "document.querySelector("
               "'path.arc.query[data-from=\"hangzhou\"][data-to=\"shanghai\"]')", 5,
               "the replayed query draws its arc")
    story = browser.execute_script(
        "return document.querySelector('#story li[data-type=\"query\"]').innerText")
    assert "consent in block 412" in story and "Shanghai" in story and "hash matched" in story
    assert "第 412 块授权" in story
    assert_shipped_font_renders(browser, "header h1", "长三角征信链")
    assert_shipped_font_renders(browser, 'g.city[data-city="shanghai"] text.city-label', "上海")
    shoot(browser, "00-replay")


def test_empty_heartbeat_blocks_are_told_as_one_line(browser: Any, tmp_path: Path) -> None:
    preset = get_preset("local4")
    start = 1_700_000_000_000
    node = preset.nodes[0]

    def commit(height: int, transactions: int) -> dict[str, Any]:
        return {"type": "commit", "node": node.node_id, "city": node.city.value,
                "height": height, "round": 0, "transactions": transactions,
                "time_ms": start + height}

    events = [commit(height, 0) for height in range(10, 30)]
    events += [commit(30, 2), commit(31, 0), commit(32, 0)]
    page_file = tmp_path / "heartbeats.html"
    page_file.write_text(replay_page({"topology": build_topology(preset), "events": events,
                                      "speed": 1000}), encoding="utf-8")
    browser.get(page_file.as_uri())
    wait_until(browser, "document.body.dataset.replayDone === 'true'", 20, "the replay ends")
    told = browser.execute_script(
        "return [...document.querySelectorAll('#story li')].map(li => [li.dataset.type, "
        "li.querySelector('.en').textContent])")
    assert [kind for kind, _ in told] == ["heartbeats", "commit", "heartbeats"]
    assert told[2][1].startswith("Blocks 10–29: 20 empty heartbeat blocks")
    assert told[1][1].startswith("Block 30 is committed: 2 transactions")
    assert told[0][1].startswith("Blocks 31–32: 2 empty heartbeat blocks")
    assert_shipped_font_renders(browser, '#story li[data-type="heartbeats"] p.zh', "心跳块")


def test_page_shows_fourteen_nodes_in_eight_cities(page: Any) -> None:
    wait_until(page, "document.querySelectorAll('g.node[data-health=\"up\"]').length === 14",
               60, "14 nodes are up")
    assert page.execute_script("return document.querySelectorAll('g.city').length") == 8
    cities = page.execute_script(
        "return [...new Set([...document.querySelectorAll('g.node')]"
        ".map(n => n.dataset.city))].length")
    assert cities == 8
    assert page.find_element("id", "nodes-up").text == "14/14"
    wait_until(page, "document.querySelectorAll('g.node[data-role=\"proposer\"]').length === 1",
               10, "one node is marked as the round's proposer")
    assert_shipped_font_renders(page, 'g.city[data-city="hangzhou"] text.city-label', "杭州")
    assert_shipped_font_renders(page, "#stop-node", "停止")
    shoot(page, "01-network")


def test_heights_advance_with_transactions(page: Any, network: RunningNetwork) -> None:
    before = max_height(page)
    bureau = institution(network, "bureau:suzhou")
    enterprise = network.preset.enterprise("enterprise:suzhou:1").credit_code
    for serial in range(3):
        bureau.publish(CreditRecord(enterprise, RecordKind.TAX, "2024", {"serial": serial}),
                       salt=serial)
    wait_until(page, f"[...document.querySelectorAll('g.node')]"
               f".every(n => Number(n.dataset.height) > {before})", 30,
               "every node's height advances")
    assert page.find_element("id", "max-height").text != str(before)


def test_a_publish_appears_on_the_map(page: Any, network: RunningNetwork) -> None:
    bureau = institution(network, "bureau:nanjing")
    enterprise = network.preset.enterprise("enterprise:nanjing:2").credit_code
    bureau.publish(CreditRecord(enterprise, RecordKind.LOAN, "2024-Q4",
                                {"balance_cny": 5_000_000, "overdue_days": 0}))
    wait_until(page, "Number(document.querySelector('g.city[data-city=\"nanjing\"]')"
               ".dataset.records) >= 1", 30, "Nanjing shows a published record")
    wait_until(page, "document.querySelector('.publish-mark[data-city=\"nanjing\"]')", 5,
               "the publish mark is drawn at Nanjing")
    story = page.execute_script(
        "return document.querySelector('#story li[data-type=\"record_published\"]').innerText")
    assert "Nanjing" in story and "南京" in story
    shoot(page, "02-publish")


def test_stopping_a_node_turns_it_down_and_restarting_brings_it_back(page: Any) -> None:
    Select(page.find_element("id", "control-node")).select_by_value(STOPPED_NODE)
    page.find_element("id", "stop-node").click()
    wait_until(page, f"document.querySelector('g.node[data-node=\"{STOPPED_NODE}\"]')"
               ".dataset.health === 'down'", 30, f"{STOPPED_NODE} is shown down")
    assert page.find_element("id", "nodes-up").text == "13/14"
    shoot(page, "03-node-down")
    page.find_element("id", "restart-node").click()
    wait_until(page, f"document.querySelector('g.node[data-node=\"{STOPPED_NODE}\"]')"
               ".dataset.health === 'up'", 60, f"{STOPPED_NODE} is back up")
    wait_until(page, "document.getElementById('nodes-up').textContent === '14/14'", 10,
               "14 nodes are up again")
    shoot(page, "04-node-back")


def test_a_client_query_draws_its_arc(page: Any, network: RunningNetwork) -> None:
    from nodes.client import Enterprise, NodeClient

    spec = network.preset.enterprise("enterprise:shanghai:2")
    bureau = institution(network, "bureau:shanghai")
    bureau.node.wait_committed(bureau.publish(CreditRecord(
        spec.credit_code, RecordKind.TAX, "2024", {"paid_cny": 1_280_000})).transaction_hash)
    bank = institution(network, "bank:hangzhou")
    enterprise = Enterprise(network.preset.key(spec.label), spec.credit_code,
                            NodeClient(network.url("hangzhou-1")))
    expires_at = int(time.time()) + 3600
    signature, grant_nonce = enterprise.sign_grant(bank.address, expires_at)
    bank.node.wait_committed(bank.submit_grant(spec.credit_code, signature, ALL_KINDS_SCOPE,
                                               expires_at, grant_nonce))
    report = bank.report(spec.credit_code.code)
    assert report["records"][0]["payload_status"] == "verified"
    recent = network.client.get(f"{network.url('hangzhou-1')}/dashboard/recent").json()
    assert any(e.get("type") == "query" for e in recent["events"]), (
        "the report route announces each query on the dashboard stream "
        "(docs/spec/dashboard-events.md, `query`)")
    wait_until(page, "document.querySelector("
               "'path.arc.query[data-from=\"hangzhou\"][data-to=\"shanghai\"]')", 15,
               "the Hangzhou -> Shanghai query arc is drawn")


def test_a_burst_of_queries_draws_arcs(page: Any) -> None:
    Select(page.find_element("id", "burst-kind")).select_by_value("query")
    count = page.find_element("id", "burst-count")
    count.clear()
    count.send_keys("8")
    page.find_element("id", "burst").click()
    wait_until(page, "document.querySelectorAll('path.arc.query').length >= 3", 60,
               "query arcs are drawn")
    arcs = page.execute_script(
        "return [...document.querySelectorAll('path.arc.query')]"
        ".map(a => [a.dataset.from, a.dataset.to, a.dataset.verified])")
    assert any(source != target for source, target, _ in arcs)
    assert all(verified == "true" for _, _, verified in arcs)
    story = page.execute_script(
        "return document.querySelector('#story li[data-type=\"query\"]').innerText")
    assert "hash matched" in story and "哈希校验一致" in story
    time.sleep(0.8)
    shoot(page, "05-query-arcs")


def test_static_mode_draws_a_still_picture_without_a_stream(browser: Any,
                                                            network: RunningNetwork) -> None:
    browser.get(f"{network.url(SERVING_NODE)}/dashboard?static")
    wait_until(browser, "document.body.dataset.ready === 'true'", 30, "the still picture is drawn")
    assert browser.execute_script("return document.body.dataset.mode") == "static"
    assert browser.execute_script(
        "return document.querySelectorAll('g.node[data-health=\"up\"]').length") == 14
    assert browser.find_element("id", "nodes-up").text == "14/14"
    assert int(browser.find_element("id", "max-height").text) > 0
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => new URL(r.name).pathname)")
    assert "/dashboard/snapshot" in loaded and "/dashboard/events" not in loaded
    assert browser.execute_script("return document.querySelectorAll('path.arc.query').length") > 0
    assert_shipped_font_renders(browser, "header h1", "长三角征信链")
    assert_shipped_font_renders(browser, '.lang button[data-lang="zh"]', "中文")
    assert_shipped_font_renders(browser, ".legend .legend-head", "节点")
    shoot(browser, "06-static")
    options = PrintOptions()
    options.orientation = "landscape"
    pdf = base64.b64decode(browser.print_page(options))
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # the still picture fits one page
    assert b"NotoSansCJKsc" in pdf  # the shipped font is embedded in the printout
    (ARTIFACTS / "06-static.pdf").write_bytes(pdf)


def test_a_virtual_time_budget_screenshot_of_the_static_page_finishes(
        network: RunningNetwork, tmp_path: Path) -> None:
    binary = shutil.which("chromium")
    if binary is None:
        missing_tool("Debian's chromium is not installed (make browser)")
    picture = tmp_path / "dashboard.png"
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=10000", f"--screenshot={picture}",
               f"{network.url(SERVING_NODE)}/dashboard?static"]
    finished = subprocess.run(command, capture_output=True, timeout=SCREENSHOT_TIMEOUT_S,
                              check=False)
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")[-2000:]
    assert picture.stat().st_size > 50_000  # a drawn map, not a blank page
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(picture, ARTIFACTS / "07-static-virtual-time.png")
