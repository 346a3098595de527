/**
 * Test a flow without touching production: pick a verb and a connection (test ones; the API
 * refuses production ones), type the inputs or take them from a past run, run, then step through
 * the trace node by node — the current node lit on the canvas, its input and output side by side,
 * its HTTP exchanges below (n8n's node details). A flow that waits answers `pending`: continue it
 * by hand or let it continue after `check_after`.
 */
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Grid,
  Group,
  JsonInput,
  NumberInput,
  ScrollArea,
  SegmentedControl,
  Select,
  Stack,
  Text,
} from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import { ExchangeView } from "../../components/ExchangeView";
import { JsonBlock } from "../../components/JsonBlock";
import { ErrorAlert } from "../../components/States";
import type { JsonObject } from "./document";
import { type TestRun, type TestRunIn, pastRunInputs, resumeTestRun, startTestRun, useConnections } from "./queries";

export interface TraceView {
  verb: string;
  steps: TestRun["steps"];
  current: number;
}

/** The flows a test run takes: the API's verbs, and `test` (the connection test's probe, no inputs). */
const TESTABLE: TestRunIn["verb"][] = [
  "test",
  "provision",
  "suspend",
  "unsuspend",
  "terminate",
  "reinstall",
  "resize",
  "reset_password",
  "console",
  "stats",
];

const DEFAULT_INPUTS = JSON.stringify(
  { order: { id: 1, hostname: "test.example.com" }, options: {}, service: {} },
  null,
  2,
);

export function TestPanel({
  document,
  verbs,
  verb,
  onTrace,
}: {
  document: () => JsonObject;
  verbs: string[];
  verb: string;
  onTrace: (trace: TraceView | null) => void;
}) {
  const connections = useConnections();
  const [chosenVerb, setVerb] = useState<string | null>((TESTABLE as string[]).includes(verb) ? verb : "provision");
  const [connection, setConnection] = useState<string | null>(null);
  const [source, setSource] = useState<"typed" | "run">("typed");
  const [inputs, setInputs] = useState(DEFAULT_INPUTS);
  const [runId, setRunId] = useState<number | string>("");
  const [result, setResult] = useState<TestRun | null>(null);
  const [steps, setSteps] = useState<TestRun["steps"]>([]);
  const [current, setCurrent] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [autoContinue, setAutoContinue] = useState(false);

  const testable = verbs.filter((v) => (TESTABLE as string[]).includes(v));
  useEffect(() => {
    if (testable.includes(verb)) setVerb(verb);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [verb, verbs]);

  // The canvas follows the step being looked at (a ref: the parent's callback may change identity).
  const traceTo = useRef(onTrace);
  traceTo.current = onTrace;
  const traceVerb = result?.verb;
  useEffect(() => {
    traceTo.current(traceVerb && steps.length > 0 ? { verb: traceVerb, steps, current } : null);
  }, [traceVerb, steps, current]);

  const take = (answer: TestRun, append: boolean) => {
    const all = append ? [...steps, ...answer.steps] : answer.steps;
    setResult(answer);
    setSteps(all);
    setCurrent(append ? steps.length : 0);
  };

  // The `test` flow sees only the connection: the API refuses inputs for it.
  const takesInputs = chosenVerb !== "test";

  const run = async () => {
    if (!chosenVerb || !connection) return;
    setBusy(true);
    setError(null);
    try {
      let typed: Record<string, unknown> | undefined;
      if (takesInputs && source === "typed") typed = JSON.parse(inputs) as Record<string, unknown>;
      const answer = await startTestRun({
        document: document() as Record<string, unknown>,
        verb: chosenVerb as TestRunIn["verb"],
        connection,
        inputs: typed as never,
        from_run: takesInputs && source === "run" ? Number(runId) : undefined,
        allow_production: false,
      });
      take(answer, false);
    } catch (e) {
      setError(e instanceof SyntaxError ? new Error(`inputs: ${e.message}`) : e);
      setResult(null);
      setSteps([]);
      onTrace(null);
    } finally {
      setBusy(false);
    }
  };

  const resume = async () => {
    if (!result?.resume_token) return;
    setBusy(true);
    setError(null);
    try {
      take(await resumeTestRun(result.resume_token), true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (!autoContinue || result?.status !== "pending" || busy) return;
    const timer = setTimeout(() => void resume(), Math.max(result.check_after ?? 1, 0.5) * 1000);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [autoContinue, result, busy]);

  const fillFromRun = async () => {
    try {
      const answer = (await pastRunInputs(Number(runId))) as { inputs: unknown; connection: string | null };
      setInputs(JSON.stringify(answer.inputs, null, 2));
      if (answer.connection) setConnection(answer.connection);
      setSource("typed");
    } catch (e) {
      setError(e);
    }
  };

  const step = steps[current];
  const options = (connections.data?.items ?? []).map((c) => ({
    value: c.name,
    label: `${c.name} (${c.purpose})`,
    disabled: c.purpose !== "test",
  }));

  return (
    <Stack gap="xs" p="xs" aria-label="Test the flow" role="region">
      <Group align="flex-end" gap="xs">
        <Select size="xs" label="Verb" data={testable} value={chosenVerb} onChange={setVerb} w={140} allowDeselect={false} />
        <Select
          size="xs"
          label="Connection"
          placeholder="a test connection"
          data={options}
          value={connection}
          onChange={setConnection}
          w={240}
          description="only connections marked test"
        />
        {takesInputs && (
          <SegmentedControl
            size="xs"
            value={source}
            onChange={(v) => setSource(v as "typed" | "run")}
            data={[
              { value: "typed", label: "Typed inputs" },
              { value: "run", label: "From a past run" },
            ]}
          />
        )}
        {takesInputs && source === "run" && (
          <>
            <NumberInput size="xs" label="Run id" value={runId} onChange={setRunId} w={100} min={1} />
            <Button size="xs" variant="light" onClick={() => void fillFromRun()} disabled={!runId}>
              Show its inputs
            </Button>
          </>
        )}
        <Button size="xs" onClick={() => void run()} loading={busy} disabled={!chosenVerb || !connection}>
          Run test
        </Button>
      </Group>
      {!takesInputs && !result && (
        <Text size="xs" c="dimmed">
          The test flow is the connection test's probe: it sees only the connection, and must answer without waiting.
        </Text>
      )}
      {takesInputs && source === "typed" && !result && (
        <JsonInput
          size="xs"
          label="Inputs (the flow context)"
          value={inputs}
          onChange={setInputs}
          autosize
          minRows={2}
          maxRows={5}
          validationError="not valid JSON"
          styles={{ input: { fontFamily: "monospace" } }}
        />
      )}
      {error != null && <ErrorAlert error={error} title="The test could not run" />}
      {result && (
        <Stack gap="xs">
          <Group gap="xs">
            <Text size="sm" fw={600}>
              {result.plugin} · {result.verb} on {result.connection}
            </Text>
            <Badge aria-label="Test status" color={result.status === "done" ? "green" : result.status === "pending" ? "yellow" : "red"}>
              {result.status}
            </Badge>
            <Button size="compact-xs" variant="subtle" onClick={() => setResult(null)}>
              Edit inputs
            </Button>
            {result.status === "pending" && (
              <>
                <Button size="compact-xs" onClick={() => void resume()} loading={busy}>
                  Continue
                </Button>
                <Text size="xs" c="dimmed">
                  after {result.check_after ?? 0} s
                </Text>
                <Checkbox size="xs" label="continue by itself" checked={autoContinue} onChange={(e) => setAutoContinue(e.currentTarget.checked)} />
              </>
            )}
          </Group>
          {result.error && (
            <Alert color="red" title="The flow failed" p="xs">
              <Text size="xs">{String((result.error as { message?: unknown }).message ?? "")}</Text>
            </Alert>
          )}
          <Group gap={4} role="list" aria-label="Steps">
            <Button size="compact-xs" variant="default" disabled={current <= 0} onClick={() => setCurrent(current - 1)}>
              ◀ Previous step
            </Button>
            {steps.map((s, index) => (
              <Button
                role="listitem"
                key={`${s.index}-${index}`}
                size="compact-xs"
                variant={index === current ? "filled" : "light"}
                color={s.error ? "red" : "violet"}
                onClick={() => setCurrent(index)}
                aria-current={index === current ? "step" : undefined}
              >
                {index + 1}. {s.node}
                {s.port ? ` → ${s.port}` : ""}
              </Button>
            ))}
            <Button size="compact-xs" variant="default" disabled={current >= steps.length - 1} onClick={() => setCurrent(current + 1)}>
              Next step ▶
            </Button>
          </Group>
          {step && (
            <section aria-label="Step details">
              <Group gap="xs" mb={4}>
                <Text size="sm" fw={600}>
                  {step.node}
                </Text>
                <Badge variant="light">{step.type}</Badge>
                {step.port && <Badge color="green" variant="light">port {step.port}</Badge>}
                {step.wait_seconds != null && <Badge color="yellow" variant="light">waits {step.wait_seconds} s</Badge>}
                <Text size="xs" c="dimmed">
                  {step.elapsed_ms.toFixed(0)} ms
                </Text>
              </Group>
              <Grid gap="xs">
                <Grid.Col span={6}>
                  <Text size="xs" fw={700} c="dimmed">
                    INPUT
                  </Text>
                  <ScrollArea.Autosize mah={200}>
                    <JsonBlock value={step.input} label="Step input" />
                  </ScrollArea.Autosize>
                </Grid.Col>
                <Grid.Col span={6}>
                  <Text size="xs" fw={700} c="dimmed">
                    OUTPUT
                  </Text>
                  <ScrollArea.Autosize mah={200}>
                    <JsonBlock value={step.output} label="Step output" />
                  </ScrollArea.Autosize>
                </Grid.Col>
              </Grid>
              {step.error && (
                <Alert color="red" p="xs" mt={4} title={String((step.error as { code?: unknown }).code ?? "error")}>
                  <Text size="xs">{String((step.error as { message?: unknown }).message ?? "")}</Text>
                </Alert>
              )}
              {step.exchanges.map((exchange, index) => (
                <ExchangeView key={index} exchange={exchange} />
              ))}
            </section>
          )}
        </Stack>
      )}
    </Stack>
  );
}
