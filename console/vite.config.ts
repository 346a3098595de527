/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands inside the Python package, so the API serves it at `/` and the wheel carries it
// (src/fluxbilling/api/console.py). `npm run dev` proxies the API of `make serve`.
const outDir = fileURLToPath(new URL("../src/fluxbilling/console", import.meta.url));
const api = process.env.FLUXBILLING_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: { outDir, emptyOutDir: true, assetsDir: "assets", chunkSizeWarningLimit: 1600 /* the builder's ELK chunk */ },
  server: {
    proxy: Object.fromEntries(["/api", "/openapi.json", "/docs"].map((p) => [p, api])),
  },
  test: {
    environment: "jsdom",
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // A shared, loaded machine types slowly; a test that waits is not a test that hangs.
    testTimeout: 20_000,
  },
});
