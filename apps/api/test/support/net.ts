import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Env for an app that needs no database (it is pointed at a closed port; readiness says so). */
export async function noDatabaseEnv(): Promise<Record<string, string>> {
  return { DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/none`, MIGRATE_ON_START: 'false' };
}
