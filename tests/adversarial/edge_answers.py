"""Small answers at a node's HTTP edge, checked over the wire against any node URL.

Each check names what a client must see: JSON-RPC refuses `"jsonrpc": "1.0"` and an empty
body with an error object (and a 4xx for the empty body); a method a route does not take is
answered 405 with `Allow`; a height with a space (`/v1/blocks/%204`) is a 4xx error document;
and the OpenAPI schema gives every path parameter and every `raw` field a pattern.

    python -m tests.adversarial.edge_answers --url http://127.0.0.1:8600
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import httpx

ERROR_KEYS = {"error", "message", "field"}
WRONG_METHODS = (("DELETE", "/v1/records", "POST"), ("PUT", "/status", "GET"),
                 ("GET", "/v1/grants", "POST"), ("GET", "/rpc", "POST"))


def _rpc_error(response: httpx.Response) -> dict[str, Any] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) and "code" in error else None


def _fields(schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (property name, schema) pair anywhere in a schema document."""
    if isinstance(schema, dict):
        for name, value in schema.get("properties", {}).items():
            if isinstance(value, dict):
                yield name, value
        for value in schema.values():
            yield from _fields(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _fields(value)


def check_edge_answers(url: str) -> dict[str, str | None]:
    """Check name -> None when right, else what was wrong."""
    base = url.rstrip("/")
    results: dict[str, str | None] = {}
    with httpx.Client(timeout=10.0) as http:
        answer = http.post(f"{base}/rpc", json={"jsonrpc": "1.0", "id": 1,
                                                 "method": "eth_chainId"})
        error = _rpc_error(answer)
        results["jsonrpc 1.0"] = (None if error is not None and error["code"] == -32600
                                  and "result" not in answer.json()
                                  else f"{answer.status_code} {answer.text[:200]}")
        for body in (b"", b"   "):
            answer = http.post(f"{base}/rpc", content=body,
                               headers={"content-type": "application/json"})
            error = _rpc_error(answer)
            results[f"POST /rpc with body {body!r}"] = (
                None if 400 <= answer.status_code < 500 and error is not None
                and error["code"] == -32700 else f"{answer.status_code} {answer.text[:200]}")
        for method, path, allowed in WRONG_METHODS:
            answer = http.request(method, f"{base}{path}")
            allow = {item.strip() for item in answer.headers.get("allow", "").split(",")}
            results[f"{method} {path}"] = (
                None if answer.status_code == 405 and allowed in allow
                and set(answer.json()) == ERROR_KEYS
                else f"{answer.status_code} allow={answer.headers.get('allow')!r}")
        for path in ("/v1/blocks/%204", "/v1/blocks/4%20", "/v1/blocks/+4", "/v1/blocks/04"):
            answer = http.get(f"{base}{path}")
            results[f"GET {path}"] = (
                None if 400 <= answer.status_code < 500 and set(answer.json()) == ERROR_KEYS
                else f"{answer.status_code} {answer.text[:200]}")
        document = http.get(f"{base}/openapi.json").json()
        loose = [f"{verb.upper()} {path} {parameter['name']}"
                 for path, operations in document["paths"].items()
                 for verb, operation in operations.items()
                 for parameter in operation.get("parameters", [])
                 if parameter["in"] == "path" and "pattern" not in parameter["schema"]]
        results["path parameters have patterns"] = f"without: {loose}" if loose else None
        raws = [schema for name, schema in _fields(document) if name == "raw"]
        results["raw fields have patterns"] = (
            None if raws and all("pattern" in schema for schema in raws)
            else f"{len(raws)} raw fields, {sum('pattern' not in s for s in raws)} without")
    return results


def main() -> int:
    """Command line: check a running node; exit status 1 on any wrong answer."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    arguments = parser.parse_args()
    results = check_edge_answers(arguments.url)
    for name, problem in results.items():
        print(f"{'ok  ' if problem is None else 'FAIL'} {name}{'' if problem is None else ': '}"
              f"{problem or ''}")
    return 1 if any(problem is not None for problem in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
