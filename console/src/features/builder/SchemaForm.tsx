/**
 * A form generated from a JSON Schema object (a node type's `node.<type>` definition, or the
 * plugin header): one input per property, chosen by the property's schema. Our own small
 * renderer, for the shapes the plugin format has:
 *
 * - enums (also `anyOf: [enum, null]`) → a select; booleans → a select true/false;
 * - strings → a text input (templates such as `{{order.hostname}}` are plain text here);
 * - numbers, and `number | template` unions → a text input that keeps a number a number;
 * - `{name: string}` maps (headers, extract) → key/value rows;
 * - lists of checks (`until`, `fail_when`, `where`) → rows of path, operator (the operators the
 *   schema's check has: equals, not_equals, in, not_in, truthy, ...) and value;
 * - an object of booleans keyed by an enum (capabilities) → checkboxes;
 * - anything else (body, query, classify, retry, settings, ...) → a JSON editor.
 *
 * Problems from the API are shown on the field they name (`errors`, by property name).
 */
import { ActionIcon, Button, Checkbox, Group, JsonInput, Select, Stack, Text, TextInput } from "@mantine/core";
import { useEffect, useState } from "react";
import type { Json, JsonObject } from "./document";
import { type JsonSchema, resolve, unwrapNullable } from "./formatSchema";

export interface SchemaFormProps {
  root: JsonSchema;
  schema: JsonSchema;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  errors?: Map<string, string[]>;
  /** Properties not to render (the node's `type`, shown elsewhere). */
  skip?: string[];
}

type Kind = "enum" | "boolean" | "string" | "number" | "stringMap" | "checks" | "flags" | "json";

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  if (schema.type) return [schema.type];
  return (schema.anyOf ?? []).flatMap((b) => types(b));
}

/** Which input a property gets. */
export function kindOf(root: JsonSchema, property: JsonSchema): Kind {
  const schema = unwrapNullable(root, property);
  const enumBranch = schema.enum ?? schema.anyOf?.find((b) => b.enum)?.enum;
  if (enumBranch) return "enum";
  const t = types(schema).filter((x) => x !== "null");
  if (t.length === 1 && t[0] === "boolean") return "boolean";
  if (t.length === 1 && t[0] === "string") return "string";
  if (t.length > 0 && t.every((x) => x === "number" || x === "integer" || x === "string")) return "number";
  if (t.length === 1 && t[0] === "object") {
    const extra = schema.additionalProperties;
    if (typeof extra === "object" && extra.type === "boolean" && schema.propertyNames) return "flags";
    if (typeof extra === "object" && extra.type === "string" && !schema.properties) return "stringMap";
  }
  if (t.length === 1 && t[0] === "array" && schema.items) {
    const item = resolve(root, schema.items);
    if (item.properties?.path && item.required?.includes("path") && Object.keys(item.properties).length <= 8) {
      if (!item.properties.means) return "checks";
    }
  }
  return "json";
}

function errorText(errors: Map<string, string[]> | undefined, name: string): string | undefined {
  const found = errors?.get(name);
  return found && found.length > 0 ? found.join("; ") : undefined;
}

/** A text input that reports its value when left (blur or Enter), not on every key. */
function LazyText({
  label,
  value,
  onCommit,
  error,
  description,
  required,
  monospace,
}: {
  label: string;
  value: string;
  onCommit: (text: string) => void;
  error?: string;
  description?: string;
  required?: boolean;
  monospace?: boolean;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  return (
    <TextInput
      label={label}
      description={description}
      required={required}
      value={text}
      error={error}
      size="xs"
      styles={monospace ? { input: { fontFamily: "monospace" } } : undefined}
      onChange={(e) => setText(e.currentTarget.value)}
      onBlur={() => text !== value && onCommit(text)}
      onKeyDown={(e) => {
        if (e.key === "Enter" && text !== value) onCommit(text);
      }}
    />
  );
}

const INVALID_JSON = "not valid JSON (strings need double quotes)";

function JsonField({
  label,
  value,
  onCommit,
  error,
  description,
  required,
}: {
  label: string;
  value: Json | undefined;
  onCommit: (value: Json | undefined) => void;
  error?: string;
  description?: string;
  required?: boolean;
}) {
  const shown = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [text, setText] = useState(shown);
  const [invalid, setInvalid] = useState<string | null>(null);
  useEffect(() => setText(shown), [shown]);
  const commit = () => {
    if (text.trim() === "") {
      setInvalid(null);
      if (value !== undefined) onCommit(undefined);
      return;
    }
    try {
      const parsed = JSON.parse(text) as Json;
      setInvalid(null);
      if (JSON.stringify(parsed) !== JSON.stringify(value)) onCommit(parsed);
    } catch {
      setInvalid(INVALID_JSON);
    }
  };
  return (
    <JsonInput
      label={label}
      description={description}
      required={required}
      value={text}
      onChange={setText}
      onBlur={commit}
      validationError={INVALID_JSON}
      error={invalid ?? error}
      autosize
      minRows={2}
      maxRows={12}
      size="xs"
      styles={{ input: { fontFamily: "monospace" } }}
    />
  );
}

/** A number stays a number; any other text (a template) stays text. */
export function parseScalar(text: string): string | number {
  const trimmed = text.trim();
  return trimmed !== "" && /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : text;
}

/** A check value typed as text: JSON when it parses (2, true, ["a"]), else the text. */
export function parseLoose(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

function StringMap({
  label,
  value,
  onCommit,
  error,
}: {
  label: string;
  value: Record<string, string>;
  onCommit: (value: Record<string, string> | undefined) => void;
  error?: string;
}) {
  const rows = Object.entries(value);
  const write = (next: [string, string][]) => {
    onCommit(next.length === 0 ? undefined : Object.fromEntries(next));
  };
  return (
    <Stack gap={4} role="group" aria-label={label}>
      <Text size="xs" fw={500}>
        {label}
      </Text>
      {rows.map(([key, text], index) => (
        <Group key={index} gap={4} wrap="nowrap">
          <LazyText
            label={`${label} name ${index + 1}`}
            value={key}
            onCommit={(k) => write(rows.map((r, i) => (i === index ? [k, r[1]] : r)))}
          />
          <LazyText
            label={`${label} value ${index + 1}`}
            value={text}
            monospace
            onCommit={(v) => write(rows.map((r, i) => (i === index ? [r[0], v] : r)))}
          />
          <ActionIcon
            variant="subtle"
            color="red"
            mt={18}
            aria-label={`Remove ${label} ${key}`}
            onClick={() => write(rows.filter((_, i) => i !== index))}
          >
            ×
          </ActionIcon>
        </Group>
      ))}
      <Button size="compact-xs" variant="light" w="fit-content" onClick={() => write([...rows, [`name${rows.length + 1}`, ""]])}>
        Add {label}
      </Button>
      {error && (
        <Text size="xs" c="red">
          {error}
        </Text>
      )}
    </Stack>
  );
}

function ChecksEditor({
  root,
  label,
  schema,
  value,
  onCommit,
  error,
}: {
  root: JsonSchema;
  label: string;
  schema: JsonSchema;
  value: JsonObject[];
  onCommit: (value: JsonObject[] | undefined) => void;
  error?: string;
}) {
  const item = resolve(root, unwrapNullable(root, schema).items ?? {});
  const operators = Object.keys(item.properties ?? {}).filter((k) => k !== "path");
  const write = (next: JsonObject[]) => onCommit(next);
  const operatorOf = (check: JsonObject) => operators.find((op) => op in check) ?? operators[0] ?? "equals";
  return (
    <Stack gap={4} role="group" aria-label={label}>
      <Text size="xs" fw={500}>
        {label}
      </Text>
      {value.map((check, index) => {
        const op = operatorOf(check);
        const shown = check[op] === undefined ? "" : typeof check[op] === "string" ? String(check[op]) : JSON.stringify(check[op]);
        return (
          <Group key={index} gap={4} wrap="nowrap" align="flex-end">
            <LazyText
              label={`${label} ${index + 1} path`}
              value={String(check.path ?? "")}
              monospace
              onCommit={(path) => write(value.map((c, i) => (i === index ? { ...c, path } : c)))}
            />
            <Select
              size="xs"
              label="operator"
              aria-label={`${label} ${index + 1} operator`}
              data={operators}
              value={op}
              allowDeselect={false}
              w={110}
              onChange={(next) => {
                if (!next) return;
                const { [op]: old, ...rest } = check;
                write(value.map((c, i) => (i === index ? { ...rest, [next]: next === "truthy" ? true : (old ?? "") } : c)));
              }}
            />
            <LazyText
              label={`${label} ${index + 1} value`}
              value={shown}
              monospace
              onCommit={(text) => write(value.map((c, i) => (i === index ? { ...c, [op]: parseLoose(text) } : c)))}
            />
            <ActionIcon variant="subtle" color="red" aria-label={`Remove ${label} ${index + 1}`} onClick={() => write(value.filter((_, i) => i !== index))}>
              ×
            </ActionIcon>
          </Group>
        );
      })}
      <Button size="compact-xs" variant="light" w="fit-content" onClick={() => write([...value, { path: "", equals: "" }])}>
        Add check to {label}
      </Button>
      {error && (
        <Text size="xs" c="red">
          {error}
        </Text>
      )}
    </Stack>
  );
}

function FieldInput({
  root,
  name,
  property,
  value,
  required,
  error,
  onCommit,
}: {
  root: JsonSchema;
  name: string;
  property: JsonSchema;
  value: Json | undefined;
  required: boolean;
  error?: string;
  onCommit: (value: Json | undefined) => void;
}) {
  const schema = unwrapNullable(root, property);
  const description = property.description ?? schema.description;
  const shortDescription = description && description.length < 160 ? description : undefined;
  switch (kindOf(root, property)) {
    case "enum": {
      const options = (schema.enum ?? schema.anyOf?.find((b) => b.enum)?.enum ?? []).map(String);
      return (
        <Select
          size="xs"
          label={name}
          description={shortDescription}
          required={required}
          data={options}
          value={value === undefined || value === null ? null : String(value)}
          placeholder={schema.default !== undefined && schema.default !== null ? `default: ${String(schema.default)}` : undefined}
          clearable={!required}
          error={error}
          onChange={(next) => onCommit(next ?? undefined)}
        />
      );
    }
    case "boolean":
      return (
        <Select
          size="xs"
          label={name}
          description={shortDescription}
          data={["true", "false"]}
          value={value === undefined || value === null ? null : String(value)}
          clearable
          error={error}
          onChange={(next) => onCommit(next === null ? undefined : next === "true")}
        />
      );
    case "string":
    case "number":
      return (
        <LazyText
          label={name}
          description={shortDescription}
          required={required}
          value={value === undefined || value === null ? "" : String(value)}
          error={error}
          monospace
          onCommit={(text) => {
            if (text === "" && !required) onCommit(undefined);
            else onCommit(kindOf(root, property) === "number" ? parseScalar(text) : text);
          }}
        />
      );
    case "stringMap":
      return (
        <StringMap
          label={name}
          value={(value ?? {}) as Record<string, string>}
          error={error}
          onCommit={(next) => onCommit(next)}
        />
      );
    case "checks":
      return (
        <ChecksEditor
          root={root}
          label={name}
          schema={property}
          value={(Array.isArray(value) ? value : []) as JsonObject[]}
          error={error}
          onCommit={(next) => onCommit(next)}
        />
      );
    case "flags": {
      const names = ((schema.propertyNames as JsonSchema | undefined)?.enum ?? []).map(String);
      const flags = (value ?? {}) as Record<string, boolean>;
      return (
        <Stack gap={4} role="group" aria-label={name}>
          <Text size="xs" fw={500}>
            {name}
          </Text>
          {names.map((flag) => (
            <Checkbox
              key={flag}
              size="xs"
              label={flag}
              checked={flags[flag] === true}
              onChange={(e) => {
                const next = { ...flags };
                if (e.currentTarget.checked) next[flag] = true;
                else delete next[flag];
                onCommit(next);
              }}
            />
          ))}
          {error && (
            <Text size="xs" c="red">
              {error}
            </Text>
          )}
        </Stack>
      );
    }
    default:
      return (
        <JsonField
          label={name}
          description={shortDescription}
          required={required}
          value={value}
          error={error}
          onCommit={onCommit}
        />
      );
  }
}

/** Set or (undefined) remove one key, keeping the others in their order. */
export function setKey(object: JsonObject, key: string, value: Json | undefined): JsonObject {
  if (value === undefined) {
    const { [key]: _removed, ...rest } = object;
    return rest;
  }
  return { ...object, [key]: value };
}

export function SchemaForm({ root, schema, value, onChange, errors, skip = [] }: SchemaFormProps) {
  const required = new Set(schema.required ?? []);
  const properties = Object.entries(schema.properties ?? {}).filter(([name, p]) => !skip.includes(name) && p.const === undefined);
  // Required fields first, then the rest in the schema's order.
  properties.sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  const unknown = Object.keys(value).filter((k) => !(schema.properties ?? {})[k] && !skip.includes(k));
  return (
    <Stack gap="xs">
      {properties.map(([name, property]) => (
        <FieldInput
          key={name}
          root={root}
          name={name}
          property={property}
          value={value[name]}
          required={required.has(name)}
          error={errorText(errors, name)}
          onCommit={(next) => onChange(setKey(value, name, next))}
        />
      ))}
      {unknown.map((name) => (
        <JsonField
          key={name}
          label={`${name} (not in the format)`}
          value={value[name]}
          error={errorText(errors, name)}
          onCommit={(next) => onChange(setKey(value, name, next))}
        />
      ))}
    </Stack>
  );
}
