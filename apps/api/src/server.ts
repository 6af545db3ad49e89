import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDeps } from './deps.js';

/**
 * Starts the API: configuration → dependencies → app → listen.
 *
 * Graceful shutdown on SIGTERM/SIGINT: readiness turns 503 and the server stops accepting
 * connections; requests in flight finish (idle keep-alive connections are closed); then Redis and
 * the database pool are closed and the process exits 0. A second signal, or SHUTDOWN_TIMEOUT_MS
 * elapsing, forces exit 1.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const deps = await createDeps(config);
  const app = await buildApp(deps);
  const log = deps.log;
  log.info(
    {
      database: deps.database.description,
      store: deps.stores.kind === 'redis' ? 'redis' : 'in-process (single process only: limits and codes are not shared between replicas)',
      sms: deps.sms.name,
      otpExposedInResponse: config.otp.exposeInResponse,
    },
    'starting phone-auth api',
  );

  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting without waiting for requests in flight');
      process.exit(1);
    }
    closing = true;
    const started = Date.now();
    log.info({ signal, timeoutMs: config.ops.shutdownTimeoutMs }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => {
      log.error({ timeoutMs: config.ops.shutdownTimeoutMs }, 'shutdown timed out: exiting with requests still in flight');
      process.exit(1);
    }, config.ops.shutdownTimeoutMs);
    try {
      await app.close(); // stop accepting, wait for requests in flight
      await deps.close(); // Redis, then the database pool
      clearTimeout(force);
      log.info({ ms: Date.now() - started }, 'shutdown complete');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', (signal) => void shutdown(signal));
  process.on('SIGINT', (signal) => void shutdown(signal));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    log.error({ err }, 'could not listen');
    await deps.close().catch(() => undefined);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`phone-auth api failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
