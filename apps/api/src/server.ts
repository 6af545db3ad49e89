import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createDeps } from './deps.js';

/** Starts the API: configuration → dependencies → app → listen; closes cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
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
  deps.log.info(
    {
      database: deps.database.description,
      store: deps.stores.kind === 'redis' ? 'redis' : 'in-process (single process only: limits and codes are not shared between replicas)',
      sms: deps.sms.name,
      otpExposedInResponse: config.otp.exposeInResponse,
    },
    'starting phone-auth api',
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      deps.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    deps.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      deps.log.error('shutdown timed out: exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await app.close();
      await deps.close();
      process.exit(0);
    } catch (err) {
      deps.log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  process.stderr.write(`phone-auth api failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
