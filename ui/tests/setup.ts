(globalThis as { __VITEST__?: boolean }).__VITEST__ = true;
