/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// Tauri loads ui/dist through its custom protocol; relative paths keep it portable.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
  test: { environment: "jsdom", globals: true, include: ["tests/**/*.test.ts"], setupFiles: ["tests/setup.ts"] },
});
