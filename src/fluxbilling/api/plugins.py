"""Visual plugins: list them, register a new version, read old versions, diff two, get the schema.

A document is validated whole by the plugin manager: an invalid one is answered with 422 and
`error.details.problems` (`[{"path", "message"}]`, paths into the document such as
`flows.provision.nodes[2].type`) and nothing is stored. A document is at most 2 MiB
(`limits.PLUGIN_BYTES`, else 413) and 64 levels deep (else 422), checked before it is parsed.

Validating and diffing cost time in proportion to a document's size: both run in a worker
thread (`limits.run_cpu_bound`), so the event loop, which also runs the provisioning worker,
keeps answering meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from fluxbilling import jsontypes, limits
from fluxbilling.api.auth import Admin, Operator, require_token
from fluxbilling.api.fields import ONE_LINE, JsonObject, Line, RequestBody
from fluxbilling.api.fields import Version as VersionNumber
from fluxbilling.plugins import diff, importing
from fluxbilling.plugins.manager import PluginManager, VersionInfo

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/plugins", tags=["plugins"], dependencies=[Depends(require_token)]
)

Slug = Annotated[
    str, StringConstraints(max_length=100), ONE_LINE, Path(description="the plugin's slug")
]
Version = Annotated[VersionNumber, Path(description="a version number of the plugin")]


class ProblemOut(BaseModel):
    """A validation finding, located by a dotted path into the document."""

    path: str
    message: str


class VersionOut(BaseModel):
    """One stored version of a plugin."""

    version: int
    sha256: str = Field(description="hash of the canonical JSON of the document")
    source: str = Field(description="where it came from: `api` or `file:<name>`")
    created_at: datetime


class PluginOut(BaseModel):
    """A registered plugin, described by its newest version."""

    slug: str
    version: int = Field(description="the newest version")
    name: str | None
    service_type: str | None = Field(serialization_alias="serviceType")
    capabilities: dict[str, bool]
    versions: int = Field(description="how many versions are stored")
    source: str = Field(description="where the newest version came from")
    created_at: datetime = Field(description="when the newest version was registered")


class FolderErrorOut(BaseModel):
    """A file in a watched plugin folder that was rejected (its last good version stays)."""

    file: str
    message: str


class PluginListOut(BaseModel):
    """Every plugin, and the rejected files of the watched folders."""

    items: list[PluginOut]
    folder_errors: list[FolderErrorOut]


class RegisteredOut(BaseModel):
    """The version a submitted document is stored as."""

    slug: str
    version: int
    unchanged: bool = Field(description="true: identical to the newest version; nothing stored")
    warnings: list[ProblemOut]


class ValidationOut(BaseModel):
    """A document that would be accepted by a save: no problems, perhaps warnings."""

    problems: list[ProblemOut] = Field(description="always empty: a document with problems is 422")
    warnings: list[ProblemOut]


class ImportIn(RequestBody):
    """Where to import a plugin document from."""

    url: Line = Field(
        max_length=2000,
        description="an https URL on a host listed in FLUXBILLING_PLUGIN_IMPORT_HOSTS",
    )


class ImportedOut(BaseModel):
    """A fetched plugin document, not validated and not stored (open it, then save it)."""

    url: str
    document: jsontypes.JsonObject


class VersionDocumentOut(VersionOut):
    """One stored version with its document as registered."""

    slug: str
    document: jsontypes.JsonObject


class ChangeOut(BaseModel):
    """One structural difference; `from` is null for an add and `to` is null for a remove."""

    op: Literal["add", "remove", "replace"]
    path: str = Field(description="dotted path, e.g. flows.provision.nodes[2].path")
    old: Any = Field(serialization_alias="from")
    new: Any = Field(serialization_alias="to")


class DiffOut(BaseModel):
    """What changed from one version to another."""

    slug: str
    from_version: int
    to_version: int
    changes: list[ChangeOut] = Field(
        description="nodes matched by id (a moved node is one `replace` of the ids' order); "
        "other lists by index"
    )
    text: str = Field(description="unified diff of the pretty-printed JSON (keys sorted)")
    truncated: bool = Field(
        description=f"true: `text` is cut after {diff.MAX_TEXT_LINES} lines (its last line says "
        "so) or shows a changed region too large to align line by line as removed and "
        "re-added; `changes` is always complete"
    )


def _manager(request: Request) -> PluginManager:
    manager: PluginManager = request.app.state.installation.plugins
    return manager


def _version_out(info: VersionInfo) -> VersionOut:
    return VersionOut(
        version=info.version, sha256=info.sha256, source=info.source, created_at=info.created_at
    )


@router.get("", summary="Every plugin with its newest version, and rejected plugin files")
async def list_plugins(request: Request) -> PluginListOut:
    """`folder_errors` names the files of watched folders that were rejected, and why."""
    manager = _manager(request)
    items = [
        PluginOut(
            slug=s.newest.slug,
            version=s.newest.version,
            name=s.name,
            service_type=s.service_type,
            capabilities=s.capabilities,
            versions=s.versions,
            source=s.newest.source,
            created_at=s.newest.created_at,
        )
        for s in await manager.list_plugins()
    ]
    folder_errors = [
        FolderErrorOut(file=path, message=message)
        for path, message in sorted(manager.folder_errors.items())
    ]
    return PluginListOut(items=items, folder_errors=folder_errors)


@router.post(
    "",
    status_code=201,
    summary="Register a plugin document as the next version of its slug",
    responses={
        200: {"description": "identical to the newest version: nothing stored"},
        409: {"description": "concurrent registrations of the slug kept colliding; try again"},
        413: {"description": "the document is larger than 2 MiB"},
        422: {"description": "invalid document: `error.details.problems` names each problem"},
    },
)
async def register_plugin(
    request: Request,
    who: Admin,
    response: Response,
    document: Annotated[
        JsonObject,
        Body(description="a whole plugin document (format: GET /api/v1/plugins/schema)"),
    ],
) -> RegisteredOut:
    """201 with the new version; 200 with `unchanged: true` when nothing changed."""
    registration = await _manager(request).submit(document, source="api", actor=who.name)
    if not registration.created:
        response.status_code = 200
    plugin = registration.plugin
    return RegisteredOut(
        slug=plugin.slug,
        version=plugin.version,
        unchanged=not registration.created,
        warnings=[ProblemOut(path=w.path, message=w.message) for w in plugin.warnings],
    )


@router.post(
    "/validate",
    summary="Validate a plugin document exactly as a save would, storing nothing",
    responses={
        403: {"description": "the caller is a viewer (validating needs the operator role)"},
        413: {"description": "the document is larger than 2 MiB"},
        422: {"description": "invalid document: `error.details.problems` names each problem"},
    },
)
async def validate_plugin(
    request: Request,
    who: Operator,
    document: Annotated[
        JsonObject,
        Body(description="a whole plugin document (format: GET /api/v1/plugins/schema)"),
    ],
) -> ValidationOut:
    """200 with the warnings of a valid document; 422 naming every problem of an invalid one.

    The builder calls it while a plugin is being edited, so problems show before saving.
    It changes nothing, so operators may call it too (saving stays with admins).
    """
    plugin = await _manager(request).validate(document)
    return ValidationOut(
        problems=[], warnings=[ProblemOut(path=w.path, message=w.message) for w in plugin.warnings]
    )


@router.post(
    "/import",
    summary="Fetch a plugin document from an allowed URL, storing nothing",
    responses={
        403: {
            "description": "the caller is not an admin, import by URL is off, or the host is "
            "not in FLUXBILLING_PLUGIN_IMPORT_HOSTS"
        },
        413: {"description": "the document is larger than 2 MiB"},
        422: {"description": "not an https URL, or the answer is not a JSON object"},
        502: {
            "description": "the host cannot be reached, its addresses are refused by the "
            "upstream address policy (public addresses only), or it did not answer 200"
        },
    },
)
async def import_plugin(body: ImportIn, request: Request, who: Admin) -> ImportedOut:
    """The document as fetched; the builder opens it and a save validates and stores it.

    Only `https` URLs of the hosts listed in `FLUXBILLING_PLUGIN_IMPORT_HOSTS` are fetched,
    through the upstream address policy with no network allowance; redirects are not followed.
    """
    installation = request.app.state.installation
    connections = installation.connections
    document = await importing.fetch(
        body.url,
        hosts=importing.hosts_of(installation.settings.plugin_import_hosts),
        resolver=connections.resolver,
        transport_for=connections.transport_for,
        timeout=installation.settings.http_timeout,
    )
    return ImportedOut(url=body.url, document=document)


@router.get("/schema", summary="The JSON Schema (draft 2020-12) of the plugin format")
async def plugin_format_schema() -> jsontypes.JsonObject:
    """Built from the same models and tables the validator uses."""
    from fluxbilling.plugins import schema as plugin_schema

    return plugin_schema.format_schema()


@router.get("/{slug}/versions", summary="Every version of a plugin, newest first")
async def list_versions(slug: Slug, request: Request) -> list[VersionOut]:
    """404 when no version of `slug` is registered."""
    return [_version_out(info) for info in await _manager(request).versions(slug)]


@router.get("/{slug}/versions/{version}", summary="One version's document, as registered")
async def get_version(slug: Slug, version: Version, request: Request) -> VersionDocumentOut:
    """Old versions stay readable (orders in flight are pinned to them)."""
    stored = await _manager(request).document(slug, version)
    info = stored.info
    return VersionDocumentOut(
        slug=info.slug,
        version=info.version,
        sha256=info.sha256,
        source=info.source,
        created_at=info.created_at,
        document=stored.document,
    )


@router.get(
    "/{slug}/diff",
    summary="What changed between two versions of a plugin",
    response_model=DiffOut,
)
async def diff_versions(
    slug: Slug,
    request: Request,
    from_version: Annotated[VersionNumber, Query(alias="from")],
    to_version: Annotated[VersionNumber, Query(alias="to")],
) -> Response:
    """A structural list of changes and a unified text diff; 404 when a version is missing."""
    manager = _manager(request)
    old = await manager.document(slug, from_version)
    new = await manager.document(slug, to_version)
    body = await limits.run_cpu_bound(
        _diff_json, slug, (from_version, old.document), (to_version, new.document)
    )
    return Response(body, media_type="application/json")


def _diff_json(
    slug: str, old: tuple[int, jsontypes.JsonObject], new: tuple[int, jsontypes.JsonObject]
) -> bytes:
    """The `DiffOut` of two versions as JSON (pure, and slow for large documents)."""
    (from_version, before), (to_version, after) = old, new
    text = diff.text_diff(
        before, after, old_label=f"{slug}@{from_version}", new_label=f"{slug}@{to_version}"
    )
    answer = DiffOut(
        slug=slug,
        from_version=from_version,
        to_version=to_version,
        changes=[
            ChangeOut(op=c.op, path=c.path, old=c.old, new=c.new)
            for c in diff.changes(before, after)
        ],
        text=text.text,
        truncated=text.truncated,
    )
    return answer.model_dump_json(by_alias=True).encode()
