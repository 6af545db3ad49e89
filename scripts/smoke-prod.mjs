#!/usr/bin/env node
// Smoke test of the production build (run after `pnpm build`): starts apps/api/dist/server.js with
// plain node — no tsx, no source condition — on an in-memory database, checks readiness, the
// OpenAPI document and a code request, then sends SIGTERM and expects exit 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'phone-auth-smoke-'));
const fail = (message) => {
  console.error(`prod smoke: FAILED: ${message}`);
  child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
};

const child = spawn(process.execPath, ['dist/server.js'], {
  cwd: path.join(root, 'apps/api'),
  env: { PATH: process.env.PATH, PORT: '0', DATABASE_URL: 'memory://', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const timer = setTimeout(() => fail('no answer within 60 s'), 60_000);
let buffered = '';
let started = false;
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  buffered += chunk;
  const match = /Server listening at (http:\/\/[^"]+)"/.exec(buffered);
  if (match && !started) {
    started = true;
    void check(match[1]).catch((err) => fail(err.message));
  }
});
child.on('exit', (code) => {
  if (!started) fail(`server exited with ${code} before listening:\n${buffered}`);
});

async function check(base) {
  const ready = await fetch(`${base}/health/ready`);
  if (ready.status !== 200) throw new Error(`/health/ready answered ${ready.status}`);
  const doc = await (await fetch(`${base}/openapi.json`)).json();
  if (!doc.paths?.['/auth/']) throw new Error('/openapi.json lacks /auth/');
  const code = await fetch(`${base}/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone_number: '+79123456789' }),
  });
  if (code.status !== 200) throw new Error(`POST /auth/ answered ${code.status}: ${await code.text()}`);
  const exited = new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  child.kill('SIGTERM');
  const exitCode = await exited;
  clearTimeout(timer);
  rmSync(dataDir, { recursive: true, force: true });
  if (exitCode !== 0) throw new Error(`exit code ${exitCode} after SIGTERM`);
  console.log('prod smoke: ok (compiled API started with plain node, answered, shut down with exit 0)');
}
