/** The CLI run in-process (lib/cli/program.ts's main), its output captured: for the CLI tests. */
import { vi } from 'vitest';

import { main } from '../../lib/cli/program.js';

/** Runs the CLI in-process and captures what it writes. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'llm-compress', ...args]);
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}
