import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it and the server binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export const closedPort = freePort;

/** Env for an app that needs no database (it is pointed at a closed port; readiness says so). */
export async function noDatabaseEnv(): Promise<Record<string, string>> {
  return { DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/none`, MIGRATE_ON_START: 'false' };
}
