"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from fluxbilling import __version__
from fluxbilling.api import (
    connections,
    deliveries,
    errors,
    invoices,
    metrics,
    openapi,
    orders,
    plugins,
    runs,
    services,
    webhooks,
)
from fluxbilling.bootstrap import Installation

__all__ = ["create_app"]


def create_app(installation: Installation) -> FastAPI:
    """The API for `installation` (OpenAPI at `/openapi.json`, docs at `/docs`)."""
    app = FastAPI(
        title="FluxBilling provisioning API",
        version=__version__,
        description="Paid orders become running services. Errors: {error: {code, message, details}}.",
    )
    app.state.installation = installation
    errors.install(app)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(invoices.router)
    app.include_router(invoices.reconcile)
    app.include_router(invoices.public)
    app.include_router(orders.router)
    app.include_router(runs.router)
    app.include_router(plugins.router)
    app.include_router(connections.router)
    app.include_router(services.router)
    app.include_router(metrics.router)
    openapi.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
