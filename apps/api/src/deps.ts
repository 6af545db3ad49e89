import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { FastifyRequest } from 'fastify';
import type { Config } from './config.js';
import { createDatabase, type DatabaseHandle } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { systemClock, type Clock } from './lib/clock.js';
import { maskPhonesInText } from './lib/phone.js';
import { createAdminService, type AdminService } from './modules/admin/admin.service.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { createAuditLog, type AuditLog } from './modules/audit/audit.js';
import { createHealthService, type HealthService } from './modules/health/health.service.js';
import { createInviteService, type InviteService } from './modules/invites/invites.service.js';
import { createIpLimiter } from './modules/limits/ip-limits.js';
import type { LimitsStore } from './modules/limits/limits.store.js';
import { createMemoryLimitsStore } from './modules/limits/limits.store.memory.js';
import { createRedisLimitsStore } from './modules/limits/limits.store.redis.js';
import { createOtpService, type OtpService } from './modules/otp/otp.service.js';
import type { OtpStore } from './modules/otp/otp.store.js';
import { createMemoryOtpStore } from './modules/otp/otp.store.memory.js';
import { createRedisOtpStore } from './modules/otp/otp.store.redis.js';
import { createDenylistRefill } from './modules/sessions/denylist-refill.js';
import { createMemoryDenylist, createRedisDenylist, type DenylistStore } from './modules/sessions/denylist.store.js';
import { createSessionService, type SessionService } from './modules/sessions/sessions.service.js';
import { createSmsSender } from './modules/sms/sms.factory.js';
import type { SmsSender } from './modules/sms/sms.sender.js';
import { loadSigningKeys } from './modules/tokens/signing-keys.js';
import { createTokenService, type TokenService } from './modules/tokens/token.service.js';
import { createProfileService, type ProfileService } from './modules/users/profile.service.js';
import { createRedis, waitForRedis } from './store/redis.js';

export interface Services {
  otp: OtpService;
  sessions: SessionService;
  profile: ProfileService;
  invites: InviteService;
  tokens: TokenService;
  admin: AdminService;
  health: HealthService;
}

export interface Stores {
  kind: 'redis' | 'memory';
  otp: OtpStore;
  limits: LimitsStore;
  denylist: DenylistStore;
  ping(): Promise<void>;
}

export interface Deps {
  config: Config;
  audit: AuditLog;
  log: PinoLogger;
  clock: Clock;
  database: DatabaseHandle;
  redis: Redis | null;
  stores: Stores;
  sms: SmsSender;
  services: Services;
  /** Prometheus registry and counters of this app instance (never the global registry). */
  metrics: Metrics;
  /** Closes Redis and the database pool. */
  close(): Promise<void>;
}

export interface DepsOverrides {
  clock?: Clock;
  sms?: SmsSender;
  /** Where structured logs go (tests capture them). */
  logStream?: DestinationStream;
}

/** Header and body fields that must never reach a log line. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.otp_code',
  '*.access_token',
  '*.refresh_token',
  '*.code',
  // Defence in depth: Fastify's request serializer logs neither headers nor bodies today; if a
  // future change logs them, these never reach a line. Full phones are logged masked (`phone`).
  'req.body',
  '*.headers.authorization',
  '*.phone_number',
  // Postgres puts offending values (a phone in a unique violation) in an error's detail.
  'err.detail',
];

export function createLogger(config: Pick<Config, 'logLevel'>, stream?: DestinationStream): PinoLogger {
  const options = {
    level: config.logLevel,
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'phone-auth-api' },
    // Fastify's request serializer, with phone numbers in the URL masked: admin paths and filters
    // carry them (/admin/users/%2B7912…, /admin/audit?phone=…).
    serializers: { req: serializeRequest },
  };
  // Synchronous writes to stdout: a line is out before the next statement runs, so nothing is
  // lost or torn on process.exit or when the console SMS provider writes to stdout too.
  return stream ? pino(options, stream) : pino(options);
}

/** The request as logged: what Fastify's own serializer keeps, with phones in the URL masked. */
function serializeRequest(req: FastifyRequest) {
  return {
    method: req.method,
    url: maskPhonesInText(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** A secret generated once into DATA_DIR when not configured (development convenience). */
async function persistentSecret(dataDir: string, name: string, log: PinoLogger): Promise<string> {
  const file = path.join(dataDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    try {
      await writeFile(file, secret, { mode: 0o600, flag: 'wx' });
    } catch {
      return (await readFile(file, 'utf8')).trim();
    }
    log.warn({ file }, 'OTP_SECRET is not set: generated one into DATA_DIR; set OTP_SECRET (the same on every replica) in production');
    return secret;
  }
}

/** The composition root: everything the app needs, built from the configuration. */
export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const log = createLogger(config, overrides.logStream);
  const clock = overrides.clock ?? systemClock;
  const metrics = createMetrics();

  const database = await createDatabase(config, log);
  let redis: Redis | null = null;
  try {
    if (config.database.migrateOnStart) {
      const applied = await migrateToLatest(database.db, config.database.schema);
      if (applied.length) log.info({ migrations: applied }, 'applied migrations');
    }

    let stores: Stores;
    if (config.redis.url) {
      redis = createRedis(config.redis.url, log);
      if (!(await waitForRedis(redis, 3000))) log.warn('redis is not reachable yet; requests needing it answer 503 until it is');
      const prefix = config.redis.keyPrefix;
      const r = redis;
      stores = {
        kind: 'redis',
        otp: createRedisOtpStore(r, prefix),
        limits: createRedisLimitsStore(r, prefix),
        denylist: createRedisDenylist(r, prefix),
        ping: async () => {
          await r.ping();
        },
      };
    } else {
      stores = {
        kind: 'memory',
        otp: createMemoryOtpStore(),
        limits: createMemoryLimitsStore(),
        denylist: createMemoryDenylist(),
        ping: async () => undefined,
      };
    }

    const sms = overrides.sms ?? createSmsSender(config.sms);
    const otpSecret = config.otp.secret ?? (await persistentSecret(config.dataDir, 'otp-secret', log));
    const keys = await loadSigningKeys(
      { privateKey: config.jwt.privateKey, previousPublicKeys: config.jwt.previousPublicKeys, dataDir: config.dataDir },
      log,
    );
    const tokens = createTokenService({ keys, clock, config: config.jwt });
    const audit = createAuditLog({ db: database.db, clock, log });
    const ipLimits = createIpLimiter({ limits: stores.limits, clock, config: config.rateLimits });
    const otp = createOtpService({
      store: stores.otp,
      limits: stores.limits,
      sms,
      audit,
      clock,
      log,
      secret: otpSecret,
      phoneRules: config.phone,
      config: config.otp,
      ipLimits,
      smsTimeoutMs: config.sms.timeoutMs,
      metrics,
    });
    const sessions = createSessionService({
      db: database.db,
      otp,
      tokens,
      denylist: stores.denylist,
      ipLimits,
      audit,
      clock,
      log,
      config: config.jwt,
      metrics,
    });
    const services: Services = {
      otp,
      sessions,
      tokens,
      profile: createProfileService({ db: database.db }),
      invites: createInviteService({ db: database.db, limits: stores.limits, clock, config: config.invites, metrics }),
      admin: createAdminService({ db: database.db, sessions, audit, clock, log, phoneRules: config.phone, config: config.admin }),
      health: createHealthService({
        pingDatabase: database.ping,
        pingRedis: stores.kind === 'redis' ? stores.ping : null,
        timeoutMs: config.ops.healthCheckTimeoutMs,
      }),
    };

    // The denylist may have been lost (a restart of this process, or of a Redis that keeps
    // nothing on disk): refill it from the sessions table before serving, and again whenever the
    // Redis connection comes back; a failed refill is retried until one succeeds.
    const refill = createDenylistRefill({ refill: () => sessions.restoreDenylist(), log });
    await refill.request();
    const onRedisReady = () => void refill.request();
    redis?.on('ready', onRedisReady);

    const r = redis;
    return {
      config,
      audit,
      log,
      clock,
      database,
      redis,
      stores,
      sms,
      services,
      metrics,
      close: async () => {
        r?.off('ready', onRedisReady);
        await refill.close();
        if (r) await r.quit().catch(() => r.disconnect());
        // Queued audit rows get their chance before the pool closes.
        await audit.close();
        await database.close();
      },
    };
  } catch (err) {
    redis?.disconnect();
    await database.close().catch(() => undefined);
    throw err;
  }
}
