"""The admin routes of the application, found from the app itself so none can be forgotten."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from pairview.server.accounts.auth import admin_page_principal, admin_principal

ADMIN_PREFIXES = ("/admin", "/api/admin")
ADMIN_DEPENDENCIES = (admin_principal, admin_page_principal)


@dataclass(frozen=True)
class Route:
    """An API route with the full path it is served at (routers' prefixes included)."""

    path: str
    methods: frozenset[str]
    route: APIRoute


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    template: str


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def is_admin_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PREFIXES)


def requires_admin(route: Route) -> bool:
    return any(call in ADMIN_DEPENDENCIES for call in _calls(route.route.dependant))


def api_routes(app: Any) -> list[Route]:
    """Return every API route of the app, also those of included routers."""
    routes = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.path:
            methods = frozenset(context.methods or ())
            routes.append(Route(context.path, methods, context.original_route))
    return routes


def admin_endpoints(app: Any) -> list[Endpoint]:
    """Return every method and path of every admin route, with a value in each path parameter."""
    endpoints = []
    for route in api_routes(app):
        if not is_admin_path(route.path):
            continue
        path = route.path
        for name in re.findall(r"\{(\w+)(?::\w+)?\}", route.path):
            path = re.sub(r"\{" + name + r"(:\w+)?\}", "audit" if name == "page" else "x1", path)
        for method in sorted(route.methods):
            endpoints.append(Endpoint(method, path, route.path))
    return endpoints
