"""The FastAPI application factory."""

from __future__ import annotations

import copy

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from fluxbilling import __version__
from fluxbilling.api import (
    account,
    audit,
    auth,
    catalogue,
    connections,
    console,
    dashboard,
    dcim,
    deliveries,
    errors,
    events,
    gateways,
    holds,
    invoices,
    metrics,
    openapi,
    orders,
    plugin_tests,
    plugins,
    request_limits,
    reveal,
    runs,
    services,
    switch_ports,
    tokens,
    users,
    webhooks,
)
from fluxbilling.bootstrap import Installation
from fluxbilling.jsontypes import JsonObject

__all__ = ["create_app"]

_DOCUMENTS: dict[request_limits.RequestLimits, JsonObject] = {}
"""The finished OpenAPI document per request limits: every app `create_app` builds has the
same routes, and making the document takes about a second (an app per installation, per
worker process, per test)."""


def create_app(installation: Installation) -> FastAPI:
    """The API for `installation` (OpenAPI at `/openapi.json`, docs at `/docs`)."""
    settings = installation.settings
    bounds = request_limits.RequestLimits(
        header_bytes=settings.max_header_bytes, api_bytes=settings.max_body_bytes
    )
    app = FastAPI(
        title="FluxBilling provisioning API",
        version=__version__,
        description="Paid orders become running services. Errors: {error: {code, message, details}}. "
        + bounds.summary(),
    )
    app.state.installation = installation
    errors.install(app)
    app.add_middleware(request_limits.LimitRequests, bounds)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(holds.router)
    app.include_router(invoices.router)
    app.include_router(gateways.router)
    app.include_router(invoices.reconcile)
    app.include_router(invoices.public)
    app.include_router(orders.router)
    app.include_router(dashboard.router)
    app.include_router(events.router)
    app.include_router(runs.router)
    app.include_router(switch_ports.router)
    app.include_router(plugin_tests.router)
    app.include_router(plugins.router)
    app.include_router(connections.router)
    app.include_router(services.router)
    app.include_router(reveal.router)
    app.include_router(reveal.public)
    for routes in catalogue.routers():
        app.include_router(routes)
    app.include_router(audit.router)
    app.include_router(dcim.router)
    app.include_router(metrics.router)
    app.include_router(account.router)
    app.include_router(tokens.own)
    app.include_router(users.router)
    app.include_router(tokens.by_user)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def document() -> JsonObject:
        if app.openapi_schema is None:
            finished = _DOCUMENTS.get(bounds)
            if finished is None:
                finished = FastAPI.openapi(app)
                _document_roles(app, finished)
                request_limits.document_limits(finished, bounds)
                openapi.document_errors(finished)
                _DOCUMENTS[bounds] = copy.deepcopy(finished)
            # Each app gets its own copy: a caller may change what it was given.
            app.openapi_schema = copy.deepcopy(finished)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]  # FastAPI's documented extension point
    console.install(app, settings.console_dir or console.PACKAGED)
    return app


def _document_roles(app: FastAPI, schema: JsonObject) -> None:
    """Name the role each operation needs (`x-required-role`), for clients and the 403 rule."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        role = auth.required_role(route.dependant)
        item = schema.get("paths", {}).get(route.path_format or "", {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if role is not None and operation is not None:
                operation["x-required-role"] = str(role)
