"""The JSON API (``/services/api/``): Lasair's REST API, answered by this archive.

The ``lasair`` client from PyPI works unchanged when pointed here::

    L = lasair.lasair_client(token, endpoint="http://127.0.0.1:8000/services/api")
    L.cone(ra, dec, radius=5, requestType="nearest")

- **Who**: ``Authorization: Token TOKEN`` with a hub API token (made at ``/hub/token``).
  A token may use the API when its scopes include ``access:services!service=api``, which
  every user's default token has (``hub/jupyterhub_config.py`` adds it to the ``user``
  role); without a token, or with another, the answer is 401.
- **As whom**: each request runs as the token's user (``lasair_nb.connect(act_as=NAME)``):
  their rights and row-level security, so another user's private watchlist is out of reach.
- **Limits**: the same as ``archive.sql`` (read-only SQL, ``LASAIR_SQL_TIMEOUT``,
  ``LASAIR_SQL_MAX_ROWS``), enforced by the archive; ``LASAIR_API_RATE_LIMIT`` requests a
  minute per token (429 beyond it, with ``Retry-After``).
- **Answers**: what :class:`lasair_nb.lasair.lasair_client` returns in a notebook, as JSON;
  a bad request is a 400 whose body is ``{"error": "what was wrong and what is accepted"}``.
- **Methods** (POST form fields or a JSON body, as Lasair's client sends them; GET with the
  same query parameters works too): ``cone``, ``query``, ``object``, ``objects``,
  ``lightcurves``, ``sherlock/object``, ``sherlock/objects``, ``sherlock/position``,
  ``annotate``, ``annotatelist``, and ``skymap/NAME`` (the sky map's credible regions and
  candidates). ``openapi.json`` describes them all.

Run by the hub: ``python -m hub.api_service``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from jupyterhub.services.auth import HubAuth
from tornado import web

import lasair_nb as ln
from hub.services import serve
from lasair_nb.admin.users import ensure_user
from lasair_nb.lasair import lasair_client
from lasair_nb.settings import Settings, get_settings

PREFIX = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/api/")
SERVICE = os.environ.get("JUPYTERHUB_SERVICE_NAME", "api")
TOKEN = re.compile(r"^\s*(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)


class BadRequest(ln.ArgumentError):
    """A parameter the API cannot use: which, what it was, what is accepted."""


# --- parameters -------------------------------------------------------------------------


def _text(params: dict[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if value is None:
        raise BadRequest(f"missing parameter {name!r}")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be text, got {value!r}")
    return value


def _number(params: dict[str, Any], name: str, default: float | None = None) -> float:
    value = params.get(name, default)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        shown = "nothing" if value is None else repr(value)
        raise BadRequest(f"{name} must be a number, got {shown}")
    return number


def _integer(params: dict[str, Any], name: str, default: int) -> int:
    number = _number(params, name, default)
    if number != int(number):
        raise BadRequest(f"{name} must be a whole number, got {params.get(name)!r}")
    return int(number)


def _flag(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise BadRequest(f"{name} must be True or False, got {value!r}")


def _ids(params: dict[str, Any], name: str = "objectIds") -> list[str]:
    value = params.get(name)
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise BadRequest(f"{name} must be objectIds separated by commas, got {value!r}")


def _classdict(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value or "{}")
    except (TypeError, json.JSONDecodeError) as error:
        raise BadRequest(f"classdict must be a JSON object, got {value!r}") from error
    if not isinstance(parsed, dict):
        raise BadRequest(f"classdict must be a JSON object, got {value!r}")
    return parsed


def _annotation(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "topic": _text(item, "topic"),
        "objectId": _text(item, "objectId"),
        "classification": _text(item, "classification"),
        "version": _text(item, "version", "0.1"),
        "explanation": _text(item, "explanation", ""),
        "classdict": _classdict(item.get("classdict")),
        "url": _text(item, "url", ""),
    }


Method = Callable[[lasair_client, dict[str, Any]], Any]

METHODS: dict[str, tuple[Method, str, tuple[str, ...]]] = {
    "cone": (
        lambda c, p: c.cone(
            _number(p, "ra"), _number(p, "dec"), _number(p, "radius", 5),
            _text(p, "requestType", "all"),
        ),
        "Objects within radius arcsec of (ra, dec) degrees: all, the nearest, or a count.",
        ("ra", "dec", "radius", "requestType"),
    ),
    "query": (
        lambda c, p: c.query(
            _text(p, "selected"), _text(p, "tables"), _text(p, "conditions", ""),
            _integer(p, "limit", 1000), _integer(p, "offset", 0),
        ),
        "SELECT selected FROM tables WHERE conditions, in Lasair's (MySQL) dialect.",
        ("selected", "tables", "conditions", "limit", "offset"),
    ),
    "object": (
        lambda c, p: c.object(
            _text(p, "objectId"), _flag(p, "lite", True), _flag(p, "lasair_added", True)
        ),
        "One object: its summary, candidates and non-detections, Sherlock, TNS, annotations.",
        ("objectId", "lite", "lasair_added"),
    ),
    "objects": (
        lambda c, p: c.objects(_ids(p)),
        "Several objects' summaries (null for an unknown objectId).",
        ("objectIds",),
    ),
    "lightcurves": (
        lambda c, p: c.lightcurves(_ids(p)),
        "Light curves of up to 10 objects: candidates and forced photometry.",
        ("objectIds",),
    ),
    "sherlock/object": (
        lambda c, p: c.sherlock_object(_text(p, "objectId"), _flag(p, "lite", True)),
        "Sherlock's context classification of an object.",
        ("objectId", "lite"),
    ),
    "sherlock/objects": (
        lambda c, p: c.sherlock_objects(_ids(p), _flag(p, "lite", True)),
        "Sherlock's classifications of several objects.",
        ("objectIds", "lite"),
    ),
    "sherlock/position": (
        lambda c, p: c.sherlock_position(
            _number(p, "ra"), _number(p, "dec"), _flag(p, "lite", True)
        ),
        "Sherlock's context of a position.",
        ("ra", "dec", "lite"),
    ),
    "annotate": (
        lambda c, p: c.annotate(**_annotation(p)),
        "Annotate an object as an annotator topic (classification, explanation...).",
        ("topic", "objectId", "classification", "version", "explanation", "classdict", "url"),
    ),
    "annotatelist": (
        lambda c, p: c.annotate_list(
            [_annotation(item) for item in p.get("annotations") or [] if isinstance(item, dict)]
        ),
        "Several annotations in one call (a JSON body: {annotations: [...]}).",
        ("annotations",),
    ),
}  # fmt: skip


def skymap(client: lasair_client, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """A sky map as JSON: its facts, credible regions (areas, MOCs) and candidates."""
    archive = client.archive
    levels = [float(x) for x in _text(params, "levels", "0.5,0.9").split(",") if x.strip()]
    if not levels or not all(0 < level <= 1 for level in levels):
        raise BadRequest("levels must be probabilities in (0, 1] separated by commas")
    listed = archive.skymaps.list()
    row = listed[listed["name"] == name]
    if row.empty:
        raise ln.NotFoundError(f"no sky map {name!r}; the sky maps are: {list(listed['name'])}")
    regions = []
    for level in sorted(levels):
        moc, area = archive.skymaps.credible_region(name, level)
        moc_json = json.loads(moc.to_string("json"))
        regions.append({"level": level, "area_deg2": area, "moc": moc_json})
    since, until = params.get("since"), params.get("until")
    found = archive.skymaps.candidates(name, level=max(levels), since=since, until=until)
    return {
        "name": name,
        "event": row["event"].iloc[0],
        "area90_deg2": float(row["area90_deg2"].iloc[0]),
        "credible_regions": regions,
        "candidates": json.loads(found.to_json(orient="records")),
    }


def openapi() -> dict[str, Any]:
    """The OpenAPI 3 description of the methods."""
    paths = {}
    for name, (_, summary, fields) in METHODS.items():
        paths[f"/{name}/"] = {
            "post": {
                "summary": summary,
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {field: {"type": "string"} for field in fields},
                            }
                        }
                    }
                },
                "responses": {
                    "200": {"description": "the answer, as lasair_nb.lasair returns it"},
                    "400": {"description": '{"error": what was wrong and what is accepted}'},
                    "401": {"description": "no token, or one without access to this API"},
                    "429": {"description": "more requests a minute than the limit"},
                },
            }
        }
    paths["/skymap/{name}/"] = {
        "get": {
            "summary": "A sky map: credible regions (area, MOC) and candidates.",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "levels", "in": "query", "schema": {"type": "string"}},
                {"name": "since", "in": "query", "schema": {"type": "string"}},
                {"name": "until", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "the sky map"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Lasair-NB API (Lasair's REST API)", "version": ln.__version__},
        "servers": [{"url": PREFIX.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            }
        },
        "security": [{"token": []}],
        "paths": paths,
    }


# --- the service ------------------------------------------------------------------------


class Api:
    """Who is asking (hub tokens), how often (per-token limit), and their clients."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.auth = HubAuth()
        self.scope = f"access:services!service={SERVICE}"
        self.clients: dict[str, lasair_client] = {}
        self.calls: dict[str, deque[float]] = defaultdict(deque)

    async def user(self, header: str) -> str | None:
        """The hub user a token belongs to, if it may use the API."""
        match = TOKEN.match(header or "")
        if not match:
            return None
        model = await self.auth.user_for_token(match[1], sync=False)
        if not model or model.get("kind", "user") != "user":
            return None
        scopes = set(model.get("scopes", []))
        if not scopes & {self.scope, "access:services"}:
            return None
        return model["name"]

    def wait(self, header: str) -> float:
        """Seconds until this token may call again (0: now); counts the call when 0."""
        now = time.monotonic()
        calls = self.calls[header]
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if len(calls) >= self.settings.api_rate_limit:
            return calls[0] + 60 - now
        calls.append(now)
        return 0.0

    def client(self, name: str) -> lasair_client:
        """A client acting as the hub user ``name`` (made, with their role, the first time)."""
        if name not in self.clients:
            ensure_user(name, settings=self.settings)
            archive = ln.connect(act_as=name)
            self.clients[name] = lasair_client(archive=archive, timeout=self.settings.sql_timeout)
        return self.clients[name]


class ApiHandler(web.RequestHandler):
    """One method of the API."""

    def initialize(self, api: Api) -> None:
        """Tornado's per-request set-up: the service's :class:`Api`."""
        self.api = api

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated JSON calls carry no cookie, so no cross-site form risk."""

    def _params(self) -> dict[str, Any]:
        content = self.request.headers.get("Content-Type", "")
        if content.startswith("application/json") and self.request.body:
            try:
                body = json.loads(self.request.body)
            except json.JSONDecodeError as error:
                raise BadRequest(f"the body is not JSON: {error}") from error
            if not isinstance(body, dict):
                raise BadRequest("the JSON body must be an object of parameters")
            return body
        return {key: self.get_argument(key) for key in self.request.arguments}

    def _reply(self, status: int, document: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(document, allow_nan=False, default=str))

    async def _answer(self, work: Callable[[lasair_client, dict[str, Any]], Any]) -> None:
        header = self.request.headers.get("Authorization", "")
        name = await self.api.user(header)
        if name is None:
            self.set_header("WWW-Authenticate", "Token")
            self._reply(401, {"error": "Unauthorized: send Authorization: Token <hub token>"})
            return
        wait = self.api.wait(header)
        if wait:
            self.set_header("Retry-After", str(math.ceil(wait)))
            limit = self.api.settings.api_rate_limit
            self._reply(429, {"error": f"more than {limit} requests a minute for this token"})
            return
        try:
            params = self._params()
            client = await asyncio.to_thread(self.api.client, name)
            result = await asyncio.to_thread(work, client, params)
        except ln.LasairError as error:
            self._reply(400, {"error": str(error)})
            return
        self._reply(200, _json_safe(result))

    async def post(self, method: str) -> None:
        """Run ``method`` with the request's parameters, as the token's user."""
        if method not in METHODS:
            self._reply(404, {"error": f"no method {method!r}; the methods: {sorted(METHODS)}"})
            return
        await self._answer(METHODS[method][0])

    get = post


class SkymapHandler(ApiHandler):
    """``skymap/NAME/``: a sky map as JSON."""

    async def get(self, name: str) -> None:  # type: ignore[override]
        """The sky map ``name``, as the token's user sees it."""
        await self._answer(lambda client, params: skymap(client, name, params))

    post = get  # type: ignore[assignment]


class OpenApiHandler(web.RequestHandler):
    """``openapi.json``: the description, open to all."""

    def get(self) -> None:
        """The OpenAPI document."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(openapi()))


def _json_safe(value: Any) -> Any:
    """NaN and infinities (which JSON has not) as null, everywhere in ``value``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def application(api: Api | None = None) -> web.Application:
    """The tornado application of the API under :data:`PREFIX`."""
    api = api or Api()
    methods = "|".join(re.escape(name) for name in METHODS)
    return web.Application(
        [
            (PREFIX + "openapi.json", OpenApiHandler),
            (PREFIX + r"skymap/([^/]+)/?", SkymapHandler, {"api": api}),
            (PREFIX + rf"({methods}|[^/]+)/?", ApiHandler, {"api": api}),
        ]
    )


def main() -> None:
    """Serve the API where the hub routes ``/services/api/``."""
    serve(application())


if __name__ == "__main__":
    main()
