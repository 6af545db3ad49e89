import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { freePort } from './net.js';

const API_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ApiProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** Everything the process wrote (structured logs on stdout, anything else on stderr). */
  output: string[];
  /** Stops it with SIGTERM (graceful shutdown) and waits for it to exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the real API (`src/server.ts`, as `pnpm start` does) in its own process on a free port
 * and waits until it answers. Only the given environment (plus PATH/HOME) reaches it.
 */
export async function startApiProcess(name: string, env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  // Node itself with tsx as a loader (not the tsx CLI, which would run the server in a second,
  // grandchild process): one pid, so stopping or killing it reaches the server.
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@phone-auth/source', 'src/server.ts'], {
    cwd: API_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  child.stderr?.on('data', (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`API process ${name} exited with ${child.exitCode}:\n${output.join('\n')}`);
    const ok = await fetch(`${url}/.well-known/jwks.json`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`API process ${name} did not answer within 45 s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    name,
    url,
    child,
    output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
