/**
 * The API as the soak run sees it: built exactly as server.ts builds it (configuration from the
 * environment → createDeps → buildApp), in its own process so that its heap is measured alone.
 * Started by scripts/soak.ts with `--expose-gc` and an IPC channel:
 *   → {type: 'ready', port}         once listening
 *   ← {type: 'heap'}  → {type: 'heap', usage}   after a full GC, so samples compare live memory
 *   ← {type: 'stop'}                closes the app and the connections, exits 0
 */
import type { AddressInfo } from 'node:net';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';

type Message = { type: 'heap' } | { type: 'stop' };

async function main(): Promise<void> {
  const deps = await createDeps(loadConfig());
  const app = await buildApp(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const gc = (globalThis as { gc?: () => void }).gc;

  process.on('message', (message: Message) => {
    if (message.type === 'heap') {
      gc?.();
      gc?.();
      process.send?.({ type: 'heap', usage: process.memoryUsage() });
    } else if (message.type === 'stop') {
      void app
        .close()
        .then(() => deps.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', port: (app.server.address() as AddressInfo).port, gc: Boolean(gc) });
}

main().catch((err: unknown) => {
  process.stderr.write(`soak server failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
