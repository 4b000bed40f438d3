"""A local Bitrix24 portal for tests and the benchmark: an httpx transport that answers the
inbound-webhook REST API in the documented formats and enforces the portal's leaky bucket.

Implements crm.contact.add/update/get/list/delete, crm.duplicate.findbycomm and batch, with
the documented quirks: IDs as strings in records but numbers from findbycomm, ``result: []``
when nothing is found, ``[]`` for empty batch sections, ``{"error", "error_description"}``
bodies (the code may be empty). A request that would overflow the bucket (drain ``rate``/s,
block above ``capacity``) gets 503 QUERY_LIMIT_EXCEEDED and is not executed.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import httpx

PORTAL_URL = "https://fake-portal.bitrix24.test/rest/1/s3cr3tc0de/"
MULTIFIELDS = ("EMAIL", "PHONE", "WEB", "IM")
# Floating-point slack when the client and the fake read the same fake clock.
EPSILON = 1e-6


class FakeClock:
    """Time that moves only when someone sleeps: waits are instant and exactly measurable."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


class FakeError(Exception):
    def __init__(self, status: int, code: str, description: str):
        self.status, self.code, self.description = status, code, description


@dataclass
class Outage:
    until: float
    status: int = 503
    code: str = "QUERY_LIMIT_EXCEEDED"
    description: str = "Too many requests"


@dataclass
class FakeBitrix24:
    clock: Callable[[], float] = time.time
    rate: float = 2.0
    capacity: int = 50
    portal_url: str = PORTAL_URL
    # Answer QUERY_LIMIT_EXCEEDED with HTTP 200 (third-party reports say the portal does).
    limit_status: int = 503
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    outage: Outage | None = None
    # Methods whose batch commands fail: method -> (error code, description).
    command_errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Every HTTP request: (method, parsed params), and the raw bodies for canary scans.
    requests: list[tuple[str, Any]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    rejected: int = 0
    max_level: float = 0.0
    level: float = 0.0
    updated: float | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path
        base = urlsplit(self.portal_url).path
        if not path.startswith(base):
            return _error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        method = path[len(base) :].removesuffix(".json")
        if not self._admit():
            self.rejected += 1
            return _error(self.limit_status, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        raw = request.content.decode()
        self.bodies.append(raw)
        if self.outage is not None and self.clock() < self.outage.until:
            response = _error(self.outage.status, self.outage.code, self.outage.description)
            if self.outage.code == "OPERATION_TIME_LIMIT":
                # The time budget's reset is announced in the answer's time block.
                body = {**response.json(), "time": {"operating_reset_at": self.outage.until}}
                response = httpx.Response(self.outage.status, json=body)
            return response
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            return _error(400, "", "Invalid JSON")
        self.requests.append((method, params))
        try:
            if method == "batch":
                result: Any = self._batch(params)
                return self._ok(result)
            return self._ok(*self._execute(method, params))
        except FakeError as exc:
            return _error(exc.status, exc.code, exc.description)

    def _admit(self) -> bool:
        now = self.clock()
        if self.updated is not None:
            self.level = max(0.0, self.level - max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.level + 1 > self.capacity + EPSILON:
            return False
        self.level += 1
        self.max_level = max(self.max_level, self.level)
        return True

    def _ok(self, result: Any, extra: dict[str, Any] | None = None) -> httpx.Response:
        now = self.clock()
        body = {
            "result": result,
            **(extra or {}),
            "time": {
                "start": now,
                "finish": now,
                "duration": 0,
                "processing": 0,
                "operating_reset_at": int(now) + 600,
                "operating": 0,
            },
        }
        return httpx.Response(200, json=body)

    # -- methods -------------------------------------------------------------------------------

    def _execute(self, method: str, params: Any) -> tuple[Any, dict[str, Any] | None]:
        if not isinstance(params, dict):
            raise FakeError(400, "", "Parameters must be an object.")
        p = {key.lower(): value for key, value in params.items()}
        if method == "crm.contact.add":
            return self._add(p.get("fields")), None
        if method == "crm.contact.update":
            return self._update(p.get("id"), p.get("fields")), None
        if method == "crm.contact.get":
            return dict(self._get(p.get("id"))), None
        if method == "crm.contact.delete":
            self.contacts.pop(int(self._get(p.get("id"))["ID"]))
            return True, None
        if method == "crm.contact.list":
            return self._list(p)
        if method == "crm.duplicate.findbycomm":
            return self._findbycomm(p), None
        for prefix, store in (("crm.lead", self.leads), ("crm.deal", self.deals)):
            if method == f"{prefix}.add":
                return self._add(p.get("fields"), store), None
            if method == f"{prefix}.update":
                return self._update(p.get("id"), p.get("fields"), store), None
            if method == f"{prefix}.get":
                return dict(self._get(p.get("id"), store)), None
            if method == f"{prefix}.delete":
                store.pop(int(self._get(p.get("id"), store)["ID"]))
                return True, None
        raise FakeError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    def _batch(self, params: Any) -> dict[str, Any]:
        cmd = params.get("cmd") if isinstance(params, dict) else None
        if not isinstance(cmd, dict):
            raise FakeError(400, "", "Parameter 'cmd' must be array.")
        if len(cmd) > 50:
            raise FakeError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        for key, line in cmd.items():
            method, _, query = str(line).partition("?")
            if method == "batch":
                raise FakeError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed")
            if method in self.command_errors:
                code, description = self.command_errors[method]
                errors[key] = {"error": code, "error_description": description}
                continue
            try:
                result, extra = self._execute(method, php_unflatten(query))
            except FakeError as exc:
                errors[key] = {"error": exc.code, "error_description": exc.description}
                continue
            results[key] = result
            if extra:
                totals[key] = extra.get("total")
                if "next" in extra:
                    nexts[key] = extra["next"]
        # PHP arrays: empty sections are [] on the wire.
        return {
            "result": results or [],
            "result_error": errors or [],
            "result_total": totals or [],
            "result_next": nexts or [],
            "result_time": [],
        }

    def _add(self, fields: Any, store: dict[int, dict[str, Any]] | None = None) -> int:
        if not isinstance(fields, dict):
            raise FakeError(400, "", "Parameter 'fields' must be array.")
        contact_id = self.next_id
        self.next_id += 1
        record: dict[str, Any] = {"ID": str(contact_id)}
        self._apply(record, fields)
        (self.contacts if store is None else store)[contact_id] = record
        return contact_id

    def _update(
        self, contact_id: Any, fields: Any, store: dict[int, dict[str, Any]] | None = None
    ) -> bool:
        record = self._get(contact_id, store)
        if not isinstance(fields, dict):
            raise FakeError(400, "", "Parameter 'fields' must be array.")
        self._apply(record, fields)
        return True

    def _get(
        self, contact_id: Any, store: dict[int, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        try:
            record = (self.contacts if store is None else store).get(int(contact_id))
        except (TypeError, ValueError):
            raise FakeError(400, "", "ID is not defined or invalid.") from None
        if record is None:
            raise FakeError(400, "", "Not found")
        return record

    def _apply(self, record: dict[str, Any], fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name in MULTIFIELDS:
                self._apply_multi(record, name, value)
            elif name in ("ID",):
                continue
            else:
                record[name] = "" if value is None else str(value)

    def _apply_multi(self, record: dict[str, Any], name: str, value: Any) -> None:
        entries: list[dict[str, Any]] = record.setdefault(name, [])
        items = value.values() if isinstance(value, dict) else value
        for item in items or []:
            if not isinstance(item, dict):
                raise FakeError(400, "", f"Parameter '{name}' must be array.")
            text = str(item.get("VALUE") or "")
            if name == "EMAIL" and text and "@" not in text:
                raise FakeError(400, "ERROR_CORE", "Invalid e-mail address.")
            if item.get("ID"):
                existing = next((e for e in entries if e["ID"] == str(item["ID"])), None)
                if existing is None:
                    continue
                if not text or item.get("DELETE") == "Y":
                    entries.remove(existing)
                else:
                    existing["VALUE"] = text
                    existing["VALUE_TYPE"] = item.get("VALUE_TYPE") or existing["VALUE_TYPE"]
            elif text:
                entries.append(
                    {
                        "ID": str(self._multi_id()),
                        "TYPE_ID": name,
                        "VALUE": text,
                        "VALUE_TYPE": item.get("VALUE_TYPE") or "WORK",
                    }
                )

    def _multi_id(self) -> int:
        self.next_id += 1
        return 100000 + self.next_id

    def _list(self, p: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        filters = p.get("filter") or {}
        start = int(p.get("start") or 0)
        matched = [c for _, c in sorted(self.contacts.items()) if _matches(c, filters)]
        page = matched[start : start + 50]
        extra: dict[str, Any] = {"total": len(matched)}
        if start + 50 < len(matched):
            extra["next"] = start + 50
        return [dict(c) for c in page], extra

    def _findbycomm(self, p: dict[str, Any]) -> Any:
        kind = p.get("type")
        values = p.get("values")
        if kind not in ("EMAIL", "PHONE"):
            raise FakeError(
                400, "Communication type is not defined", "Parameter 'type' is required."
            )
        if isinstance(values, dict):
            values = list(values.values())
        if not values:
            raise FakeError(
                400, "Communication values is not defined", "Parameter 'values' is required."
            )
        if len(values) > 20:
            raise FakeError(400, "", "Too many communication values (max 20).")
        wanted = {str(v).strip().lower() for v in values}
        found = sorted(
            cid
            for cid, c in self.contacts.items()
            if any(e["VALUE"].strip().lower() in wanted for e in c.get(kind, []))
        )
        entity = p.get("entity_type")
        if not found or entity not in (None, "CONTACT"):
            return []
        return {"CONTACT": found}

    # -- helpers for tests ---------------------------------------------------------------------

    def methods(self) -> list[str]:
        """Every method executed, batch commands expanded: ["batch:crm.contact.add", ...]."""
        out: list[str] = []
        for method, params in self.requests:
            if method == "batch":
                out += [
                    f"batch:{str(line).partition('?')[0]}"
                    for line in (params.get("cmd") or {}).values()
                ]
            else:
                out.append(method)
        return out

    def sent_text(self) -> str:
        """Everything received, with batch commands URL-decoded: what a canary scan reads."""
        return "\n".join(unquote_plus(body) for body in self.bodies)

    def seed(self, **fields: Any) -> int:
        """A contact created by someone else in the CRM."""
        return self._add(fields)


def _matches(contact: dict[str, Any], filters: dict[str, Any]) -> bool:
    for key, wanted in filters.items():
        if key in MULTIFIELDS:
            values = {e["VALUE"].lower() for e in contact.get(key, [])}
            if str(wanted).lower() not in values:
                return False
        elif key.startswith("@"):
            items = wanted.values() if isinstance(wanted, dict) else wanted
            if str(contact.get(key[1:], "")) not in {str(v) for v in items}:
                return False
        elif str(contact.get(key, "")) != str(wanted):
            return False
    return True


def _error(status: int, code: str, description: str) -> httpx.Response:
    return httpx.Response(status, json={"error": code, "error_description": description})


def php_unflatten(query: str) -> dict[str, Any]:
    """Parse ``a[b][0][c]=v`` the way PHP does (lists come back as dicts keyed "0", "1"...,
    which the methods above accept in place of lists)."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + ([p.rstrip("]") for p in rest.split("[")] if rest else [])
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        last = parts[-1]
        if last == "":
            last = str(len(node))
        node[last] = value
    return out
