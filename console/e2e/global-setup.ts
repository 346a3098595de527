/**
 * Start a real FluxBilling for the journeys: `fluxbilling-demo` (what `make demo` runs) in a
 * temporary folder, on free loopback ports, with the simulators; its ready file gives the
 * console's URL, the simulators' URL and a login. Playwright calls the returned function at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");
const DEMO = join(ROOT, ".venv", "bin", "fluxbilling-demo");

export interface Ready {
  console_url: string;
  simulators_url: string;
  api_token: string;
  username?: string;
  password?: string;
}

async function waitForReady(file: string, demo: ChildProcess, log: () => string): Promise<Ready> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (demo.exitCode !== null) throw new Error(`the demo exited (${demo.exitCode}):\n${log()}`);
    if (existsSync(file)) {
      const text = readFileSync(file, "utf8");
      if (text) return JSON.parse(text) as Ready;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the demo did not start within 120 s:\n${log()}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "fluxbilling-e2e-"));
  const readyFile = join(dir, "ready.json");
  let output = "";
  const demo = spawn(DEMO, ["--ready-file", readyFile], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", COLUMNS: "120" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  demo.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  demo.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const ready = await waitForReady(readyFile, demo, () => output);
  process.env.FLUXBILLING_E2E = JSON.stringify(ready);
  return async () => {
    demo.kill("SIGTERM");
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        demo.kill("SIGKILL");
        done();
      }, 15_000);
      demo.on("exit", () => {
        clearTimeout(timer);
        done();
      });
      if (demo.exitCode !== null) done();
    });
    rmSync(dir, { recursive: true, force: true });
  };
}
