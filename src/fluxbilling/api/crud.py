"""The five routes of a catalogue entity, built the same way for each: list, get, create, change,
delete.

```
GET    /api/v1/<things>?<filters>&limit=&cursor=   viewer   a page in id order
GET    /api/v1/<things>/{id}                        viewer
POST   /api/v1/<things>                             writer   201; 409 key taken; 422 named
PATCH  /api/v1/<things>/{id}                        writer   fields given change; 409 refused
DELETE /api/v1/<things>/{id}                        writer   204; 409 naming what uses it
```

An `Entity` names the models, the `catalogue.records.Kind` and the role that may write
(admin for the catalogue, operator for customers). Every change runs in one transaction
with its audit row (the actor is the caller's principal). The routes are made with real
type objects in their signatures (FastAPI reads parameters from them), so the OpenAPI
document names each entity's own models.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError, create_model

from fluxbilling.accounts.roles import Role
from fluxbilling.api.auth import Admin, Operator, Viewer, require_token
from fluxbilling.api.fields import RequestBody, RowId
from fluxbilling.api.rows import Row
from fluxbilling.bootstrap import Installation
from fluxbilling.catalogue import records

__all__ = ["Entity", "Filter", "problems_of", "router"]

S = TypeVar("S")

_WRITERS = {Role.ADMIN: Admin, Role.OPERATOR: Operator}


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter of the list route: its type and the condition a value makes."""

    name: str
    annotation: Any
    where: Callable[[Any], sa.ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class Entity(Generic[S]):
    """One kind of catalogue entry at the API.

    Attributes:
        path: the collection's path segment (`locations`).
        title: the singular in summaries (`location`).
        kind: the entry's `Kind`, for this installation (products need its drivers).
        spec: makes a spec from a body's fields (by name).
        body: the create model; `patch`: the change model (every field optional).
        out: the answer model: `id`, the spec's fields and `extras(row)`.
        writer: the role that may create, change and delete.
        filters: the list route's query parameters.
        extras: more answer fields from the row (a host's used capacity).
    """

    path: str
    title: str
    kind: Callable[[Installation], records.Kind[S]]
    spec: Callable[..., S]
    body: type[RequestBody]
    patch: type[RequestBody]
    out: type[Row]
    writer: Role = Role.ADMIN
    filters: Sequence[Filter] = ()
    extras: Callable[[Any], Mapping[str, Any]] = field(default=lambda _row: {})


def _installation(request: Request) -> Installation:
    installation: Installation = request.app.state.installation
    return installation


def _signed(function: Callable[..., Any], *params: inspect.Parameter, returns: Any) -> Any:
    """`function` with the signature FastAPI reads its parameters from."""
    function.__signature__ = inspect.Signature(list(params), return_annotation=returns)  # type: ignore[attr-defined]
    return function


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


async def _answer(entity: Entity[S], kind: records.Kind[S], names: records.Names, row: Any) -> Row:
    spec = await kind.to_spec(names, row)
    values = dataclasses.asdict(spec)  # type: ignore[call-overload]
    return entity.out.model_validate({"id": row.id, **values, **entity.extras(row)})


def problems_of(exc: ValidationError, where: str = "") -> list[records.Problem]:
    """A model's validation errors as problems, placed under `where` (`hosts[2]`)."""
    return [
        records.problem(".".join([*([where] if where else []), *map(str, e["loc"])]), e["msg"])
        for e in exc.errors()
    ]


def _body(entity: Entity[Any], values: Mapping[str, Any]) -> RequestBody:
    """`values` checked by the create model: a change must leave a valid entry (a null
    where a value is needed, say, is named like any other problem)."""
    try:
        return entity.body.model_validate(values)
    except ValidationError as exc:
        records.reject(entity.title, problems_of(exc))
        raise  # unreachable: reject raised


def router(entity: Entity[Any]) -> APIRouter:
    """The routes of `entity` (see the module docstring)."""
    routes = APIRouter(
        prefix=f"/api/v1/{entity.path}",
        tags=["catalogue"],
        dependencies=[Depends(require_token)],
    )
    title, plural = entity.title, entity.path.replace("-", " ")
    writer = _WRITERS[entity.writer]
    needs: dict[int | str, dict[str, Any]] = {
        403: {"description": f"needs the {entity.writer} role"}
    }
    list_out = create_model(
        f"{entity.out.__name__.removesuffix('Out')}ListOut",
        __base__=Row,
        items=(list[entity.out], ...),  # type: ignore[name-defined]
        next_cursor=(
            int | None,
            Field(description="pass as `cursor` for the next page (null: no more)"),
        ),
    )

    async def list_entries(
        request: Request, who: Any, limit: int, cursor: int | None, **filters: Any
    ) -> BaseModel:
        installation = _installation(request)
        kind = entity.kind(installation)
        where = [f.where(filters[f.name]) for f in entity.filters if filters[f.name] is not None]
        async with installation.db.connect() as conn:
            names = records.Names(conn)
            rows, after = await records.page(conn, kind, where=where, limit=limit, cursor=cursor)
            items = [await _answer(entity, kind, names, row) for row in rows]
        return list_out(items=items, next_cursor=after)

    async def get_entry(entry_id: int, request: Request, who: Any) -> Row:
        installation = _installation(request)
        kind = entity.kind(installation)
        async with installation.db.connect() as conn:
            names = records.Names(conn)
            return await _answer(entity, kind, names, await records.get(conn, kind, entry_id))

    async def create_entry(body: RequestBody, request: Request, who: Any) -> Row:
        installation = _installation(request)
        kind = entity.kind(installation)
        spec = entity.spec(**body.model_dump())
        async with installation.db.begin() as conn:
            names = records.Names(conn)
            row_id = await records.create(conn, names, kind, spec, actor=who.name)
            return await _answer(entity, kind, names, await records.get(conn, kind, row_id))

    async def change_entry(entry_id: int, body: RequestBody, request: Request, who: Any) -> Row:
        installation = _installation(request)
        kind = entity.kind(installation)
        given = body.model_dump(exclude_unset=True)
        async with installation.db.begin() as conn:
            names = records.Names(conn)
            current = await kind.to_spec(names, await records.get(conn, kind, entry_id))
            fields = dataclasses.asdict(current)  # nested specs (a host's pools) as objects
            spec = entity.spec(**_body(entity, {**fields, **given}).model_dump())
            await records.update(conn, names, kind, entry_id, spec, actor=who.name)
            return await _answer(entity, kind, names, await records.get(conn, kind, entry_id))

    async def delete_entry(entry_id: int, request: Request, who: Any) -> Response:
        installation = _installation(request)
        kind = entity.kind(installation)
        async with installation.db.begin() as conn:
            await records.delete(conn, records.Names(conn), kind, entry_id, actor=who.name)
        return Response(status_code=204)

    request_param = _param("request", Request)
    filters = [
        _param(f.name, Annotated[f.annotation | None, Query()], None) for f in entity.filters
    ]
    routes.add_api_route(
        "",
        _signed(
            list_entries,
            request_param,
            _param("who", Viewer),
            _param("limit", Annotated[int, Query(ge=1, le=500)], 50),
            _param(
                "cursor",
                Annotated[RowId | None, Query(description="the next_cursor of the previous page")],
                None,
            ),
            *filters,
            returns=list_out,
        ),
        methods=["GET"],
        response_model=list_out,
        summary=f"The {plural}, in id order; filtered, paginated by cursor",
    )
    routes.add_api_route(
        "/{entry_id}",
        _signed(
            get_entry,
            _param("entry_id", RowId),
            request_param,
            _param("who", Viewer),
            returns=entity.out,
        ),
        methods=["GET"],
        response_model=entity.out,
        summary=f"One {title}",
    )
    routes.add_api_route(
        "",
        _signed(
            create_entry,
            _param("body", entity.body),
            request_param,
            _param("who", writer),
            returns=entity.out,
        ),
        methods=["POST"],
        status_code=201,
        response_model=entity.out,
        summary=f"Create a {title}",
        responses={
            **needs,
            409: {"description": f"a {title} with this key exists"},
            422: {"description": "invalid: `error.details.problems` names each field"},
        },
    )
    routes.add_api_route(
        "/{entry_id}",
        _signed(
            change_entry,
            _param("entry_id", RowId),
            _param("body", entity.patch),
            request_param,
            _param("who", writer),
            returns=entity.out,
        ),
        methods=["PATCH"],
        response_model=entity.out,
        summary=f"Change a {title}: the fields given",
        responses={
            **needs,
            409: {"description": "the key is taken, or running services forbid the change"},
            422: {"description": "the result would be invalid; nothing was changed"},
        },
    )
    routes.add_api_route(
        "/{entry_id}",
        _signed(
            delete_entry,
            _param("entry_id", RowId),
            request_param,
            _param("who", writer),
            returns=None,
        ),
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary=f"Delete a {title} nothing uses",
        responses={**needs, 409: {"description": "in use: the message says by what"}},
    )
    return routes
