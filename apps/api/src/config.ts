import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { z } from 'zod';
import { getCountries, type CountryCode } from 'libphonenumber-js/max';
import { BEARER_CREDENTIAL } from './lib/bearer.js';

/**
 * All configuration comes from environment variables, parsed here once with zod into a frozen
 * object. Nothing else in the code base reads `process.env`. A bad value stops the process with a
 * message naming the variable.
 */

/** Repository root: this file is at apps/api/{src,dist}/config.{ts,js}. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const countries = new Set<string>(getCountries());

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], {
      errorMap: () => ({ message: 'must be true or false' }),
    })
    .optional()
    .transform((v) => (v === undefined ? def : v === 'true' || v === '1' || v === 'yes'));

const int = (def: number, min: number, max: number) =>
  z.coerce
    .number({ invalid_type_error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

/**
 * A secret that clients present as a Bearer credential (as auth-hook.ts reads it): any other
 * value could be configured but never presented. Optional.
 */
const bearerSecret = () =>
  z
    .string()
    .min(32, 'must be at least 32 characters')
    .regex(BEARER_CREDENTIAL, 'may contain only letters, digits and - . _ ~ + / (and = at the end), as a Bearer token must')
    .optional();

const region = z
  .string()
  .toUpperCase()
  .refine((c) => countries.has(c), 'must be an ISO 3166-1 alpha-2 country code libphonenumber knows')
  .transform((c) => c as CountryCode);

const testNumbers = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const map = new Map<string, string>();
    if (!raw) return map;
    for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const match = /^(\+[1-9][0-9]{6,14}):([0-9]{4,10})$/.exec(entry);
      if (!match?.[1] || !match[2]) {
        ctx.addIssue({ code: 'custom', message: `entry "${entry}" must look like +79990000000:1234` });
        return z.NEVER;
      }
      map.set(match[1], match[2]);
    }
    return map;
  });

const EnvObject = z.object({
    PORT: int(3000, 0, 65535),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    TRUST_PROXY: z
      .string()
      .optional()
      .transform((v, ctx): boolean | string => {
        if (v === undefined || v === '' || v === 'false') return false;
        if (v === 'true') return true;
        if (/^[0-9]+$/.test(v)) {
          // Fastify 5 ignores hop counts on purpose (they cannot tell a proxy from a client
          // that sends its own X-Forwarded-For), so a number would silently trust nobody.
          ctx.addIssue({
            code: 'custom',
            message: 'hop counts are not supported; use true or the proxy addresses/CIDRs (e.g. 10.0.0.0/8,127.0.0.1)',
          });
          return z.NEVER;
        }
        return v; // comma-separated addresses / CIDRs, passed to Fastify as is
      }),
    DATA_DIR: z.string().min(1).default(path.join(REPO_ROOT, '.data')),

    DATABASE_URL: z
      .string()
      .regex(/^(postgres|postgresql|memory):\/\//, 'must start with postgres://, postgresql:// or memory://')
      .optional(),
    DATABASE_SCHEMA: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .default('public'),
    DATABASE_POOL_SIZE: int(10, 1, 200),
    DATABASE_PREPARED_STATEMENTS: bool(true),
    MIGRATE_ON_START: bool(true),

    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    REDIS_KEY_PREFIX: z.string().max(64).default('pa:'),

    DEFAULT_REGION: region.default('RU'),
    SMS_ALLOWED_COUNTRIES: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (!raw) return null;
        const list = raw.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
        for (const c of list) {
          if (!countries.has(c)) {
            ctx.addIssue({ code: 'custom', message: `"${c}" is not a country code` });
            return z.NEVER;
          }
        }
        return new Set(list as CountryCode[]);
      }),

    OTP_LENGTH: int(4, 4, 10),
    OTP_TTL_SECONDS: int(300, 30, 86_400),
    OTP_RESEND_SECONDS: int(60, 0, 3600),
    OTP_MAX_ATTEMPTS: int(5, 1, 100),
    OTP_MAX_FAILURES_PER_PHONE: int(10, 1, 10_000),
    OTP_FAILURE_WINDOW_SECONDS: int(3600, 60, 604_800),
    OTP_MAX_SENDS_PER_PHONE_PER_DAY: int(10, 1, 10_000),
    OTP_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    OTP_TEST_NUMBERS: testNumbers,
    OTP_EXPOSE_IN_RESPONSE: bool(false).optional(),

    SMS_PROVIDER: z.enum(['console', 'webhook', 'twilio']).default('console'),
    SMS_TIMEOUT_MS: int(5000, 100, 60_000),
    SMS_WEBHOOK_URL: z.string().url().optional(),
    SMS_WEBHOOK_SECRET: z.string().min(1).optional(),
    TWILIO_ACCOUNT_SID: z.string().min(1).optional(),
    TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
    TWILIO_FROM: z.string().min(1).optional(),
    TWILIO_API_URL: z.string().url().default('https://api.twilio.com'),

    JWT_PRIVATE_KEY: z.string().min(1).optional(),
    JWT_PREVIOUS_PUBLIC_KEYS: z.string().optional(),
    JWT_ISSUER: z.string().min(1).default('phone-auth'),
    JWT_AUDIENCE: z.string().min(1).default('phone-auth'),
    ACCESS_TOKEN_TTL_SECONDS: int(900, 60, 86_400),
    REFRESH_TOKEN_TTL_SECONDS: int(2_592_000, 3600, 31_536_000),
    ACCESS_TOKEN_CACHE_SIZE: int(10_000, 0, 1_000_000),

    INVITE_MAX_FAILURES: int(10, 1, 10_000),
    INVITE_FAILURE_WINDOW_SECONDS: int(3600, 60, 604_800),

    RATE_LIMIT_WINDOW_SECONDS: int(60, 1, 86_400),
    RATE_LIMIT_REQUEST_CODE_PER_IP: int(20, 1, 1_000_000),
    RATE_LIMIT_VERIFY_CODE_PER_IP: int(60, 1, 1_000_000),
    RATE_LIMIT_REFRESH_PER_IP: int(60, 1, 1_000_000),

    ADMIN_API_TOKEN: bearerSecret(),
    METRICS_TOKEN: bearerSecret(),
    SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
    HEALTH_CHECK_TIMEOUT_MS: int(1000, 50, 30_000),
    METRICS_ENABLED: bool(true),
    DOCS_ENABLED: bool(true),
    CORS_ORIGINS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (!raw) return null;
        const list = raw.split(',').map((o) => o.trim()).filter(Boolean);
        for (const origin of list) {
          if (origin === '*') continue;
          let parsed: URL | null = null;
          try {
            parsed = new URL(origin);
          } catch {
            parsed = null;
          }
          if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
            ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com (or *)` });
            return z.NEVER;
          }
        }
        return list;
      }),
  });

/** Every environment variable the API reads (README's table and .env.example are kept in sync by a test). */
export const CONFIG_VARIABLES = Object.keys(EnvObject.shape) as ReadonlyArray<keyof typeof EnvObject.shape>;

const EnvSchema = EnvObject
  .superRefine((env, ctx) => {
    if (env.SMS_PROVIDER === 'webhook') {
      for (const key of ['SMS_WEBHOOK_URL', 'SMS_WEBHOOK_SECRET'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when SMS_PROVIDER=webhook' });
      }
    }
    if (env.SMS_PROVIDER === 'twilio') {
      for (const key of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'] as const) {
        if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when SMS_PROVIDER=twilio' });
      }
    }
  });

export type Env = z.input<typeof EnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function build(env: z.output<typeof EnvSchema>) {
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY,
    dataDir: env.DATA_DIR,
    database: {
      /** undefined → embedded PGlite in DATA_DIR; memory:// → throwaway PGlite. */
      url: env.DATABASE_URL,
      schema: env.DATABASE_SCHEMA,
      poolSize: env.DATABASE_POOL_SIZE,
      preparedStatements: env.DATABASE_PREPARED_STATEMENTS,
      migrateOnStart: env.MIGRATE_ON_START,
    },
    redis: { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX },
    phone: { defaultRegion: env.DEFAULT_REGION, allowedCountries: env.SMS_ALLOWED_COUNTRIES },
    otp: {
      length: env.OTP_LENGTH,
      ttlSeconds: env.OTP_TTL_SECONDS,
      resendSeconds: env.OTP_RESEND_SECONDS,
      maxAttempts: env.OTP_MAX_ATTEMPTS,
      maxFailuresPerPhone: env.OTP_MAX_FAILURES_PER_PHONE,
      failureWindowSeconds: env.OTP_FAILURE_WINDOW_SECONDS,
      maxSendsPerPhonePerDay: env.OTP_MAX_SENDS_PER_PHONE_PER_DAY,
      secret: env.OTP_SECRET,
      testNumbers: env.OTP_TEST_NUMBERS,
      // The seed returned the code in the response; keep that only where no real SMS is sent.
      exposeInResponse: env.OTP_EXPOSE_IN_RESPONSE ?? env.SMS_PROVIDER === 'console',
    },
    sms: {
      provider: env.SMS_PROVIDER,
      timeoutMs: env.SMS_TIMEOUT_MS,
      webhookUrl: env.SMS_WEBHOOK_URL,
      webhookSecret: env.SMS_WEBHOOK_SECRET,
      twilio: {
        accountSid: env.TWILIO_ACCOUNT_SID,
        authToken: env.TWILIO_AUTH_TOKEN,
        from: env.TWILIO_FROM,
        apiUrl: env.TWILIO_API_URL,
      },
    },
    jwt: {
      privateKey: env.JWT_PRIVATE_KEY,
      previousPublicKeys: env.JWT_PREVIOUS_PUBLIC_KEYS,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      /** Verified access tokens remembered (signature check skipped; time claims and denylist still checked). */
      verifiedTokenCacheSize: env.ACCESS_TOKEN_CACHE_SIZE,
    },
    invites: {
      maxFailures: env.INVITE_MAX_FAILURES,
      failureWindowSeconds: env.INVITE_FAILURE_WINDOW_SECONDS,
    },
    rateLimits: {
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      requestCodePerIp: env.RATE_LIMIT_REQUEST_CODE_PER_IP,
      verifyCodePerIp: env.RATE_LIMIT_VERIFY_CODE_PER_IP,
      refreshPerIp: env.RATE_LIMIT_REFRESH_PER_IP,
    },
    /** Bearer token of the admin API; unset: the admin API answers 404. */
    admin: { apiToken: env.ADMIN_API_TOKEN },
    ops: {
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      healthCheckTimeoutMs: env.HEALTH_CHECK_TIMEOUT_MS,
      metricsEnabled: env.METRICS_ENABLED,
      /** Bearer token GET /metrics requires; unset: /metrics is open (keep it off the public listener). */
      metricsToken: env.METRICS_TOKEN,
      docsEnabled: env.DOCS_ENABLED,
    },
    /** Browser origins allowed to call the API (CORS); null: no CORS headers at all. */
    corsOrigins: env.CORS_ORIGINS,
  };
}

export type Config = Readonly<ReturnType<typeof build>>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Map) && !(value instanceof Set)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the environment. Empty strings count as unset, as they do in most `.env` tooling.
 * Throws a ConfigError naming every bad variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = EnvSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return deepFreeze(build(result.data));
}
