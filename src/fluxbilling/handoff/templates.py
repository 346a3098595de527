"""Handoff templates: a sandboxed renderer for a subset of Handlebars.

Operators edit these templates, so rendering must be safe: there is no ``eval`` and no
attribute access on Python objects. A path only looks up keys of mappings and
indices of lists in a JSON-like context (dict / list / str / int / float / bool /
None), so ``{{__class__}}`` is just a missing key and renders empty.

Supported syntax (Handlebars semantics):

| Syntax                                   | Meaning                                         |
|------------------------------------------|-------------------------------------------------|
| ``{{a.b}}``                              | value, HTML-escaped when ``escape=True``        |
| ``{{{a.b}}}`` / ``{{&a.b}}``             | value, never escaped                            |
| ``{{#if a}}..{{else}}..{{/if}}``         | truthy test (false, null, "", 0 and [] are falsy) |
| ``{{#unless a}}..{{else}}..{{/unless}}`` | inverse test                                    |
| ``{{#each xs}}..{{else}}..{{/each}}``    | lists (``@index @first @last``), dicts (``@key``) |
| ``{{#with a}}..{{else}}..{{/with}}``     | change the context                              |
| ``this``, ``.``, ``../a``, ``@root.a``   | current, parent and root context                |
| ``{{! c }}``, ``{{!-- c --}}``           | comments                                        |

Missing values render as the empty string. Block tags and comments alone on their line
are "standalone": the line they stand on disappears from the output, as in Handlebars,
so plain-text mails keep their layout. `compile_template` checks the syntax up front and
raises `errors.InvalidSettings` naming the line and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from fluxbilling import errors

__all__ = [
    "WELCOME_MAIL_EXAMPLE_CONTEXT",
    "WELCOME_MAIL_SUBJECT",
    "WELCOME_MAIL_TEXT",
    "WELCOME_TEMPLATES",
    "Template",
    "compile_template",
]

BlockKind = Literal["if", "unless", "each", "with"]
_BLOCKS: dict[str, BlockKind] = {"if": "if", "unless": "unless", "each": "each", "with": "with"}
_SEGMENT = re.compile(r"[\w$-]+")


# ---------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True, slots=True)
class _Path:
    depth: int  # how many ``../``
    data: bool  # an ``@`` variable (``@index``, ``@key``, ``@root.x``)
    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Var:
    path: _Path
    raw: bool


@dataclass(frozen=True, slots=True)
class _Block:
    kind: BlockKind
    path: _Path
    body: tuple[_Node, ...]
    inverse: tuple[_Node, ...]


_Node: TypeAlias = "str | _Var | _Block"


# ---------------------------------------------------------------------------------------
# Tokenizer


@dataclass(slots=True)
class _Tag:
    kind: Literal["var", "raw", "open", "close", "else", "comment"]
    content: str
    line: int
    standalone_candidate: bool


_Piece: TypeAlias = "str | _Tag"


def _fail(line: int, problem: str) -> errors.InvalidSettings:
    return errors.InvalidSettings(f"template line {line}: {problem}", line=line, problem=problem)


def _find_end(source: str, start: int, closer: str, line: int, what: str) -> int:
    end = source.find(closer, start)
    if end < 0:
        raise _fail(line, f"unterminated {what}")
    return end


def _classify_tag(source: str, pos: int, line: int) -> tuple[_Tag, int]:
    """The tag starting at ``pos`` (at ``{{``) and the index just after it."""
    if source.startswith("{{!--", pos):
        end = _find_end(source, pos + 5, "--}}", line, "comment {{!--")
        return _Tag("comment", "", line, True), end + 4
    if source.startswith("{{!", pos):
        end = _find_end(source, pos + 3, "}}", line, "comment {{!")
        return _Tag("comment", "", line, True), end + 2
    if source.startswith("{{{", pos):
        end = _find_end(source, pos + 3, "}}}", line, "tag {{{")
        return _Tag("raw", source[pos + 3 : end].strip(), line, False), end + 3
    end = _find_end(source, pos + 2, "}}", line, "tag {{")
    content = source[pos + 2 : end].strip()
    sigil = content[:1]
    if sigil == "#":
        return _Tag("open", content[1:].strip(), line, True), end + 2
    if sigil == "/":
        return _Tag("close", content[1:].strip(), line, True), end + 2
    if sigil == "&":
        return _Tag("raw", content[1:].strip(), line, False), end + 2
    if content == "else":
        return _Tag("else", "", line, True), end + 2
    if sigil in (">", "^", "~") or content.endswith("~") or content.startswith("else "):
        raise _fail(line, f"unsupported tag {{{{{content}}}}}")
    return _Tag("var", content, line, False), end + 2


def _tokenize(source: str) -> list[_Piece]:
    tokens: list[_Piece] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            if pos < len(source):
                tokens.append(source[pos:])
            return tokens
        if start > pos:
            tokens.append(source[pos:start])
        tag, pos = _classify_tag(source, start, source.count("\n", 0, start) + 1)
        tokens.append(tag)


def _at_line_start(tokens: Sequence[_Piece], i: int) -> bool:
    """Only spaces or tabs separate token ``i`` from the start of its line."""
    if i == 0:
        return True
    before = tokens[i - 1]
    if not isinstance(before, str):
        return False
    _, newline, tail = before.rpartition("\n")
    return bool(newline or i == 1) and not tail.strip(" \t")


def _at_line_end(tokens: Sequence[_Piece], i: int) -> bool:
    """Only spaces or tabs separate token ``i`` from the end of its line."""
    last = len(tokens) - 1
    if i == last:
        return True
    after = tokens[i + 1]
    if not isinstance(after, str):
        return False
    line, newline, _ = after.partition("\n")
    return bool(newline or i + 1 == last) and not line.strip(" \t\r")


def _strip_standalone(tokens: list[_Piece]) -> list[_Piece]:
    """Drop the indentation and line break around block tags that stand alone on a line."""
    standalone = [
        i
        for i, token in enumerate(tokens)
        if isinstance(token, _Tag)
        and token.standalone_candidate
        and _at_line_start(tokens, i)
        and _at_line_end(tokens, i)
    ]
    result = list(tokens)
    for i in standalone:
        before = result[i - 1] if i > 0 else None
        if isinstance(before, str):
            head, newline, _ = before.rpartition("\n")
            result[i - 1] = head + newline
        after = result[i + 1] if i + 1 < len(result) else None
        if isinstance(after, str):
            _, newline, rest = after.partition("\n")
            result[i + 1] = rest if newline else ""
    return [t for t in result if not (isinstance(t, str) and not t)]


# ---------------------------------------------------------------------------------------
# Parser


def _parse_path(expr: str, line: int) -> _Path:
    if not expr:
        raise _fail(line, "empty tag {{}}")
    if " " in expr or "\t" in expr or "\n" in expr:
        raise _fail(line, f"helpers are not supported: {{{{{expr}}}}}")
    rest = expr
    depth = 0
    while rest.startswith("../") or rest == "..":
        depth += 1
        rest = rest[3:]
    data = rest.startswith("@")
    if data:
        rest = rest[1:]
    elif rest in ("this", "."):
        rest = ""
    else:
        rest = rest.removeprefix("this.").removeprefix("./")
    segments = tuple(rest.split(".")) if rest else ()
    if (data and not segments) or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise _fail(line, f"invalid expression {{{{{expr}}}}}")
    return _Path(depth, data, segments)


@dataclass(slots=True)
class _Open:
    kind: BlockKind
    path: _Path
    line: int
    body: list[_Node] = field(default_factory=list)
    inverse: list[_Node] | None = None

    def add(self, node: _Node) -> None:
        (self.body if self.inverse is None else self.inverse).append(node)


def _open_block(tag: _Tag) -> _Open:
    name, _, argument = tag.content.partition(" ")
    kind = _BLOCKS.get(name)
    if kind is None:
        raise _fail(tag.line, f"unknown block helper {{{{#{name}}}}}")
    if not argument.strip():
        raise _fail(tag.line, f"{{{{#{name}}}}} needs one argument")
    return _Open(kind, _parse_path(argument.strip(), tag.line), tag.line)


def _close_block(tag: _Tag, stack: list[_Open]) -> _Block:
    if len(stack) == 1:
        raise _fail(tag.line, f"unexpected {{{{/{tag.content}}}}}")
    top = stack[-1]
    if tag.content != top.kind:
        raise _fail(
            tag.line,
            f"unexpected {{{{/{tag.content}}}}}, expected {{{{/{top.kind}}}}} "
            f"for the {{{{#{top.kind}}}}} opened on line {top.line}",
        )
    stack.pop()
    return _Block(top.kind, top.path, tuple(top.body), tuple(top.inverse or ()))


def _parse(tokens: list[_Piece]) -> tuple[_Node, ...]:
    root = _Open("with", _Path(0, False, ()), 0)
    stack = [root]
    for token in tokens:
        if isinstance(token, str):
            stack[-1].add(token)
        elif token.kind in ("var", "raw"):
            stack[-1].add(_Var(_parse_path(token.content, token.line), token.kind == "raw"))
        elif token.kind == "open":
            stack.append(_open_block(token))
        elif token.kind == "close":
            block = _close_block(token, stack)
            stack[-1].add(block)
        elif token.kind == "else":
            top = stack[-1]
            if top is root:
                raise _fail(token.line, "unexpected {{else}} outside a block")
            if top.inverse is not None:
                raise _fail(token.line, f"second {{{{else}}}} in {{{{#{top.kind}}}}}")
            top.inverse = []
    if len(stack) > 1:
        top = stack[-1]
        raise _fail(top.line, f"unclosed {{{{#{top.kind}}}}} opened on line {top.line}")
    return tuple(root.body)


# ---------------------------------------------------------------------------------------
# Rendering

_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)


@dataclass(frozen=True, slots=True)
class _Frame:
    value: Any
    data: Mapping[str, Any]


def _truthy(value: Any) -> bool:
    """Handlebars truthiness: false, null, "", 0 and [] are falsy; {} is truthy."""
    if isinstance(value, str | int | float | list | tuple):
        return bool(value)
    return value is not None


def _step(value: Any, segment: str) -> Any:
    """One path step: a mapping key or a list index, never an attribute."""
    if isinstance(value, Mapping):
        return value.get(segment)
    if isinstance(value, list | tuple) and segment.isdigit():
        index = int(segment)
        return value[index] if index < len(value) else None
    return None


def _lookup(path: _Path, frames: Sequence[_Frame]) -> Any:
    frame = frames[max(0, len(frames) - 1 - path.depth)]
    segments = path.segments
    if path.data:
        name, segments = segments[0], segments[1:]
        value = frames[0].value if name == "root" else frame.data.get(name)
    else:
        value = frame.value
    for segment in segments:
        value = _step(value, segment)
    return value


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(_to_text(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def _items(value: Any) -> list[tuple[Any, dict[str, Any]]]:
    if isinstance(value, Mapping):
        pairs = [(v, {"key": k}) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        pairs = [(v, {}) for v in value]
    else:
        return []
    last = len(pairs) - 1
    for index, (_, data) in enumerate(pairs):
        data.update(index=index, first=index == 0, last=index == last)
    return pairs


class _Renderer:
    def __init__(self, escape: bool) -> None:
        self.escape = escape
        self.out: list[str] = []

    def nodes(self, nodes: Sequence[_Node], frames: list[_Frame]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, _Var):
                text = _to_text(_lookup(node.path, frames))
                self.out.append(text if node.raw or not self.escape else text.translate(_ESCAPES))
            else:
                self.block(node, frames)

    def block(self, node: _Block, frames: list[_Frame]) -> None:
        value = _lookup(node.path, frames)
        if node.kind in ("if", "unless"):
            chosen = node.body if _truthy(value) == (node.kind == "if") else node.inverse
            self.nodes(chosen, frames)
        elif node.kind == "with":
            if _truthy(value):
                self.nodes(node.body, [*frames, _Frame(value, frames[-1].data)])
            else:
                self.nodes(node.inverse, frames)
        else:
            items = _items(value)
            for item, data in items:
                self.nodes(node.body, [*frames, _Frame(item, {**frames[-1].data, **data})])
            if not items:
                self.nodes(node.inverse, frames)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template; render it any number of times."""

    source: str
    _nodes: tuple[_Node, ...] = field(repr=False)

    def render(self, context: Mapping[str, Any], *, escape: bool = True) -> str:
        """Render with a JSON-like context.

        Args:
            context: Plain data (dicts, lists, str, int, float, bool, None).
            escape: HTML-escape ``{{...}}`` values (the default, for HTML); pass False
                for plain-text mail. ``{{{...}}}`` is never escaped.

        Returns:
            The rendered text; missing values render as the empty string.

        Example:
            >>> compile_template("Hi {{name}}!").render({"name": "<Ann>"})
            'Hi &lt;Ann&gt;!'
        """
        renderer = _Renderer(escape)
        renderer.nodes(self._nodes, [_Frame(context, {})])
        return "".join(renderer.out)


def compile_template(source: str) -> Template:
    """Check a template's syntax and compile it.

    Args:
        source: The template text.

    Returns:
        The compiled template.

    Raises:
        errors.InvalidSettings: The syntax is wrong; the message names the line and the
            problem, e.g. ``template line 3: unclosed {{#if}} opened on line 3``.
    """
    return Template(source, _parse(_strip_standalone(_tokenize(source))))


# ---------------------------------------------------------------------------------------
# Default templates

WELCOME_MAIL_SUBJECT = "Your server {{hostname}} is ready (order {{order_number}})"

WELCOME_MAIL_TEXT = """\
Hello {{#if customer.name}}{{customer.name}}{{else}}there{{/if}},

your server for order {{order_number}} has been set up and is running.

  Hostname:      {{hostname}}
  IPv4 address:  {{ipv4.address}}
{{#if ipv4.gateway}}
  IPv4 gateway:  {{ipv4.gateway}}
{{/if}}
{{#if ipv4.netmask}}
  Netmask:       {{ipv4.netmask}}
{{/if}}
{{#if ipv6.address}}
  IPv6 address:  {{ipv6.address}}
{{/if}}
  OS image:      {{os_image}}

Log in with SSH:

  ssh {{root_user}}@{{ipv4.address}}
{{#if reveal_link.url}}

Your password is not in this mail. Open this link to see it, once (it works once and
expires after {{reveal_link.hours}} hours):

  {{reveal_link.url}}
{{else}}
  Password: {{password}}
{{/if}}

Please change this password after your first login.
{{#if ssh_keys}}
These SSH keys are installed for {{root_user}} as well:
{{#each ssh_keys}}
  - {{this}}
{{/each}}
{{/if}}

{{#if panel_url}}
Manage the server (reboot, reinstall, rescue console) in the control panel:
  {{panel_url}}
{{else}}
If you cannot reach the server over the network, use the console in your customer area.
{{/if}}

Kind regards,
{{support.team}}
{{#if support.email}}
{{support.email}}
{{/if}}
{{#if support.url}}
{{support.url}}
{{/if}}
"""

WELCOME_SHARED_SUBJECT = "Your hosting account for {{hostname}} is ready (order {{order_number}})"

WELCOME_SHARED_TEXT = """\
Hello {{#if customer.name}}{{customer.name}}{{else}}there{{/if}},

your hosting account for order {{order_number}} has been set up.

  Domain:        {{hostname}}
  Username:      {{account.username}}
{{#if reveal_link.url}}
  Password:      not in this mail; see it once at the link below
{{else}}
  Password:      {{password}}
{{/if}}
{{#if ipv4.address}}
  Server IP:     {{ipv4.address}}
{{/if}}
{{#if panel_url}}

Log in to your control panel at:
  {{panel_url}}
{{/if}}
{{#if reveal_link.url}}

Your password, shown once (the link works once and expires after {{reveal_link.hours}} hours):
  {{reveal_link.url}}
{{/if}}

Point your domain's DNS at the server address above, or at our name servers, to go live.
Please change this password after your first login.

Kind regards,
{{support.team}}
{{#if support.email}}
{{support.email}}
{{/if}}
"""

WELCOME_GAME_SUBJECT = "Your game server {{hostname}} is ready (order {{order_number}})"

WELCOME_GAME_TEXT = """\
Hello {{#if customer.name}}{{customer.name}}{{else}}there{{/if}},

your game server for order {{order_number}} has been installed.

  Server name:   {{hostname}}
{{#if game.address}}
  Connect to:    {{game.address}}
{{/if}}
  Panel user:    {{account.username}}
{{#if reveal_link.url}}
  Password:      not in this mail; see it once at the link below
{{else}}
  Password:      {{password}}
{{/if}}
{{#if panel_url}}

Start, stop and configure it in the game panel:
  {{panel_url}}
{{/if}}
{{#if reveal_link.url}}

Your password, shown once (the link works once and expires after {{reveal_link.hours}} hours):
  {{reveal_link.url}}
{{/if}}

Please change this password after your first login.

Kind regards,
{{support.team}}
{{#if support.email}}
{{support.email}}
{{/if}}
"""

WELCOME_TEMPLATES: Mapping[str, tuple[str, str]] = {
    "vps": (WELCOME_MAIL_SUBJECT, WELCOME_MAIL_TEXT),
    "baremetal": (WELCOME_MAIL_SUBJECT, WELCOME_MAIL_TEXT),
    "shared": (WELCOME_SHARED_SUBJECT, WELCOME_SHARED_TEXT),
    "game": (WELCOME_GAME_SUBJECT, WELCOME_GAME_TEXT),
}
"""The default welcome mail (subject, text) per service type."""

WELCOME_MAIL_EXAMPLE_CONTEXT: Mapping[str, Any] = {
    "customer": {"name": "Ada Lovelace"},
    "order_number": "ORD-2026-00042",
    "hostname": "vps42.example.net",
    "ipv4": {"address": "192.0.2.42", "gateway": "192.0.2.1", "netmask": "255.255.255.0"},
    "ipv6": {"address": "2001:db8::42"},
    "os_image": "Debian 12 (bookworm)",
    "root_user": "root",
    "account": {"username": "fb000016"},
    "game": {"address": "192.0.2.42:25565"},
    "password": "correct-horse-battery",
    "ssh_keys": [],
    "panel_url": "https://panel.example.net/servers/42",
    "support": {
        "team": "The Example Hosting support team",
        "email": "support@example.net",
        "url": "https://example.net/support",
    },
}
"""A context with every key the default welcome templates use (previews and tests).

With `reveal_link` (`{"url", "hours"}`) instead of `password`, the templates point to the
one-time link rather than carrying the password (products with `password_delivery =
reveal_link`)."""
