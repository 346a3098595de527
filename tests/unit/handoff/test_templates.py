"""The sandboxed Handlebars-subset renderer and the default welcome mail."""

from __future__ import annotations

from typing import Any

import pytest

from fluxbilling import errors
from fluxbilling.handoff import templates


def render(source: str, context: dict[str, Any] | None = None, *, escape: bool = True) -> str:
    return templates.compile_template(source).render(context or {}, escape=escape)


# --- values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("Hi {{name}}!", {"name": "Ada"}, "Hi Ada!"),
        ("{{ name }}", {"name": "Ada"}, "Ada"),
        ("{{server.ipv4.address}}", {"server": {"ipv4": {"address": "192.0.2.1"}}}, "192.0.2.1"),
        ("{{this.name}}/{{./name}}", {"name": "x"}, "x/x"),
        ("{{ips.1}}", {"ips": ["a", "b"]}, "b"),
        ("[{{ips.5}}]", {"ips": ["a"]}, "[]"),
        ("[{{missing}}][{{a.b.c}}]", {"a": {}}, "[][]"),
        ("[{{name.length}}]", {"name": "Ada"}, "[]"),
        (
            "{{n}} {{f}} {{g}} {{t}} {{no}} [{{none}}]",
            {"n": 3, "f": 2.0, "g": 2.5, "t": True, "no": False, "none": None},
            "3 2 2.5 true false []",
        ),
        ("{{xs}}|{{obj}}", {"xs": [1, "a"], "obj": {"k": 1}}, "1,a|[object Object]"),
        ("a {{! note }}b{{!-- has }} inside --}}c", {}, "a bc"),
    ],
)
def test_values(source: str, context: dict[str, Any], expected: str) -> None:
    assert render(source, context) == expected


def test_no_python_attribute_access() -> None:
    context = {"name": "Ada", "items": [1]}
    source = "[{{__class__}}{{name.__class__}}{{items.__len__}}{{name.upper}}{{__dict__}}]"
    assert render(source, context) == "[]"


def test_objects_are_looked_up_by_key_only() -> None:
    class Secretive:
        password = "hunter2"

    assert render("[{{obj.password}}]", {"obj": Secretive()}) == "[]"


def test_html_escaping_by_default() -> None:
    value = "<b>\"Tom\" & 'Jerry'</b> `x`=1"
    expected = "&lt;b&gt;&quot;Tom&quot; &amp; &#x27;Jerry&#x27;&lt;/b&gt; &#x60;x&#x60;&#x3D;1"
    assert render("{{v}}", {"v": value}) == expected


def test_raw_output_is_never_escaped() -> None:
    assert render("{{{v}}}{{& v}}", {"v": "<i>"}) == "<i><i>"


def test_plain_text_mode_does_not_escape() -> None:
    assert render("{{v}}", {"v": "a<b & c"}, escape=False) == "a<b & c"


# --- blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "yes"),
        ("x", "yes"),
        (1, "yes"),
        ({}, "yes"),
        ([0], "yes"),
        (False, "no"),
        (None, "no"),
        ("", "no"),
        (0, "no"),
        (0.0, "no"),
        ([], "no"),
    ],
)
def test_if_else_truthiness(value: Any, expected: str) -> None:
    assert render("{{#if v}}yes{{else}}no{{/if}}", {"v": value}) == expected


def test_if_without_else_and_missing_value() -> None:
    assert render("[{{#if v}}yes{{/if}}]", {}) == "[]"


def test_unless() -> None:
    source = "{{#unless paid}}unpaid{{else}}paid{{/unless}}"
    assert render(source, {"paid": False}) == "unpaid"
    assert render(source, {"paid": True}) == "paid"


def test_each_over_a_list() -> None:
    source = "{{#each ips}}{{@index}}:{{this}}{{#if @first}}(first){{/if}}{{#unless @last}},{{/unless}}{{/each}}"
    assert render(source, {"ips": ["a", "b", "c"]}) == "0:a(first),1:b,2:c"


def test_each_over_objects_reads_their_keys() -> None:
    source = "{{#each disks}}{{name}}={{size}} {{/each}}"
    context = {"disks": [{"name": "sda", "size": 20}, {"name": "sdb", "size": 40}]}
    assert render(source, context) == "sda=20 sdb=40 "


def test_each_over_a_dict_gives_key() -> None:
    source = "{{#each ports}}{{@key}}={{this}};{{@index}} {{/each}}"
    assert render(source, {"ports": {"ssh": 22, "http": 80}}) == "ssh=22;0 http=80;1 "


@pytest.mark.parametrize("value", [[], {}, None, "text", 5])
def test_each_else_when_empty_or_not_iterable(value: Any) -> None:
    assert render("{{#each xs}}x{{else}}none{{/each}}", {"xs": value}) == "none"


def test_with_changes_the_context() -> None:
    source = "{{#with server}}{{hostname}} ({{../order}}){{else}}no server{{/with}}"
    assert render(source, {"server": {"hostname": "vps1"}, "order": 7}) == "vps1 (7)"
    assert render(source, {"order": 7}) == "no server"


def test_parent_scope_lookups() -> None:
    source = (
        "{{#each servers}}{{#each ips}}{{../name}}/{{this}}@{{../../zone}}"
        "#{{@index}} {{/each}}{{/each}}"
    )
    context = {
        "zone": "fra",
        "servers": [{"name": "a", "ips": ["1", "2"]}, {"name": "b", "ips": ["3"]}],
    }
    assert render(source, context) == "a/1@fra#0 a/2@fra#1 b/3@fra#0 "


def test_if_does_not_add_a_scope_level() -> None:
    source = "{{#each xs}}{{#if this}}{{../title}}:{{this}} {{/if}}{{/each}}"
    assert render(source, {"title": "T", "xs": [1, 0, 2]}) == "T:1 T:2 "


def test_parent_beyond_the_root_stays_at_the_root() -> None:
    assert render("{{../../name}}|{{..}}", {"name": "r"}) == "r|[object Object]"


def test_root_and_this() -> None:
    source = "{{#with a}}{{#with b}}{{@root.top}}-{{this.c}}-{{.}}{{/with}}{{/with}}"
    assert render(source, {"top": "T", "a": {"b": {"c": "C"}}}) == "T-C-[object Object]"


def test_data_variables_outside_each_are_empty() -> None:
    assert render("[{{@index}}{{@key}}]", {}) == "[]"


def test_with_keeps_each_data() -> None:
    source = "{{#each xs}}{{#with this}}{{@index}}{{n}}{{/with}}{{/each}}"
    assert render(source, {"xs": [{"n": "a"}, {"n": "b"}]}) == "0a1b"


# --- standalone lines -----------------------------------------------------------------


def test_standalone_block_lines_disappear() -> None:
    source = "A\n  {{#if x}}\n  B\n  {{else}}\n  C\n  {{/if}}\n{{! note }}\nD\n"
    assert render(source, {"x": True}) == "A\n  B\nD\n"
    assert render(source, {"x": False}) == "A\n  C\nD\n"


def test_standalone_each_renders_one_line_per_item() -> None:
    source = "IPs:\n{{#each ips}}\n- {{this}}\n{{/each}}\nend"
    assert render(source, {"ips": ["a", "b"]}) == "IPs:\n- a\n- b\nend"


def test_standalone_at_template_edges_and_crlf() -> None:
    assert render("{{#if x}}\r\nyes\r\n{{/if}}", {"x": 1}) == "yes\r\n"
    assert render("  {{#if x}}  \nyes\n  {{/if}}  ", {"x": 1}) == "yes\n"
    assert render("{{#if x}}{{/if}}") == ""


def test_inline_blocks_keep_their_whitespace() -> None:
    assert render("a {{#if x}} b {{/if}} c", {"x": 1}) == "a  b  c"
    assert render("{{v}} {{#if x}}\nb\n{{/if}}", {"v": "v", "x": 1}) == "v \nb\n"
    assert render("{{#if x}} {{v}}\n{{/if}}", {"v": "v", "x": 1}) == " v\n"


# --- syntax errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a\nb\n{{#if x}}\nc", "template line 3: unclosed {{#if}} opened on line 3"),
        (
            "{{#each xs}}\n{{#if y}}\n{{/each}}",
            "template line 3: unexpected {{/each}}, expected {{/if}} for the {{#if}} opened on line 2",
        ),
        ("ok\n{{/each}}", "template line 2: unexpected {{/each}}"),
        ("{{else}}", "template line 1: unexpected {{else}} outside a block"),
        ("{{#if a}}{{else}}{{else}}{{/if}}", "template line 1: second {{else}} in {{#if}}"),
        ("{{#loop xs}}{{/loop}}", "template line 1: unknown block helper {{#loop}}"),
        ("{{#if}}{{/if}}", "template line 1: {{#if}} needs one argument"),
        ("\n{{name", "template line 2: unterminated tag {{"),
        ("{{{raw}}", "template line 1: unterminated tag {{{"),
        ("{{! never closed", "template line 1: unterminated comment {{!"),
        ("{{!-- never closed }}", "template line 1: unterminated comment {{!--"),
        ("{{}}", "template line 1: empty tag {{}}"),
        ("{{upper name}}", "template line 1: helpers are not supported: {{upper name}}"),
        ("{{#if (eq a b)}}{{/if}}", "template line 1: helpers are not supported: {{(eq a b)}}"),
        ("{{a..b}}", "template line 1: invalid expression {{a..b}}"),
        ("{{a[0]}}", "template line 1: invalid expression {{a[0]}}"),
        ("{{@}}", "template line 1: invalid expression {{@}}"),
        ("{{> partial}}", "template line 1: unsupported tag {{> partial}}"),
        ("{{^x}}{{/x}}", "template line 1: unsupported tag {{^x}}"),
        ("{{~x}}", "template line 1: unsupported tag {{~x}}"),
        ("{{x~}}", "template line 1: unsupported tag {{x~}}"),
        ("{{else if x}}", "template line 1: unsupported tag {{else if x}}"),
    ],
)
def test_syntax_errors_name_line_and_problem(source: str, message: str) -> None:
    with pytest.raises(errors.InvalidSettings) as info:
        templates.compile_template(source)
    assert info.value.message == message
    assert info.value.details["line"] == int(message.split()[2].rstrip(":"))


def test_compiled_template_is_reusable() -> None:
    template = templates.compile_template("{{n}}")
    assert [template.render({"n": i}) for i in range(3)] == ["0", "1", "2"]
    assert template.source == "{{n}}"


# --- default welcome mail -------------------------------------------------------------


def welcome(**overrides: Any) -> str:
    context = {**templates.WELCOME_MAIL_EXAMPLE_CONTEXT, **overrides}
    return templates.compile_template(templates.WELCOME_MAIL_TEXT).render(context, escape=False)


def test_welcome_mail_contains_the_access_data() -> None:
    text = welcome()
    for expected in (
        "Hello Ada Lovelace,",
        "order ORD-2026-00042",
        "Hostname:      vps42.example.net",
        "IPv4 address:  192.0.2.42",
        "IPv4 gateway:  192.0.2.1",
        "Netmask:       255.255.255.0",
        "IPv6 address:  2001:db8::42",
        "OS image:      Debian 12 (bookworm)",
        "ssh root@192.0.2.42",
        "Password: correct-horse-battery",
        "https://panel.example.net/servers/42",
        "The Example Hosting support team\nsupport@example.net\nhttps://example.net/support\n",
    ):
        assert expected in text
    assert "{{" not in text
    assert "\n\n\n" not in text


def test_welcome_mail_optional_parts() -> None:
    text = welcome(customer={}, ipv6=None, panel_url="", ssh_keys=["ada@laptop"], password="p<&>")
    assert text.startswith("Hello there,")
    assert "IPv6" not in text
    assert "  - ada@laptop\n" in text
    assert "console in your customer area" in text
    assert "Password: p<&>" in text


def test_welcome_subject() -> None:
    subject = templates.compile_template(templates.WELCOME_MAIL_SUBJECT).render(
        templates.WELCOME_MAIL_EXAMPLE_CONTEXT, escape=False
    )
    assert subject == "Your server vps42.example.net is ready (order ORD-2026-00042)"


LINK = "https://billing.example.net/reveal/" + "x" * 43


def welcome_of(service_type: str, **overrides: Any) -> str:
    context = {**templates.WELCOME_MAIL_EXAMPLE_CONTEXT, **overrides}
    _, text = templates.WELCOME_TEMPLATES[service_type]
    return templates.compile_template(text).render(context, escape=False)


@pytest.mark.parametrize("service_type", sorted(templates.WELCOME_TEMPLATES))
def test_every_welcome_mail_carries_the_password_by_default(service_type: str) -> None:
    text = welcome_of(service_type)
    assert "correct-horse-battery" in text
    assert "/reveal/" not in text and "expires after" not in text


@pytest.mark.parametrize("service_type", sorted(templates.WELCOME_TEMPLATES))
def test_every_welcome_mail_under_reveal_link_carries_the_link_and_no_password(
    service_type: str,
) -> None:
    # The handoff phase gives no password at all in this mode; one given by mistake must
    # not show either.
    text = welcome_of(service_type, reveal_link={"url": LINK, "hours": 48})
    assert text.count(LINK) == 1
    assert "correct-horse-battery" not in text
    assert "expires after 48 hours" in text
    assert "{{" not in text
