import ipaddr from 'ipaddr.js';
import type { Clock } from '../../lib/clock.js';
import { consumeOrThrow, type LimitsStore } from './limits.store.js';

/** The auth endpoints with their own per-IP budget (RATE_LIMIT_*_PER_IP). */
export type IpLimitedAction = 'request' | 'verify' | 'refresh';

export interface IpLimitsConfig {
  windowSeconds: number;
  requestCodePerIp: number;
  verifyCodePerIp: number;
  refreshPerIp: number;
}

export interface IpLimiter {
  /** Counts one request of `action` from `ip`; throws RATE_LIMITED (with retry_after) when over. */
  check(action: IpLimitedAction, ip: string): Promise<void>;
}

/**
 * The client network one per-IP budget covers: an IPv4 address itself (also when written as
 * IPv4-mapped IPv6), an IPv6 address by its /64. A /64 is one end site's subnet: its owner can
 * send from any of its 2^64 addresses (privacy addresses, a VPS's routed /64), so counting single
 * IPv6 addresses would let one client rotate past every per-IP limit.
 */
export function clientNetwork(ip: string): string {
  if (!ip.includes(':') || !ipaddr.isValid(ip)) return ip;
  const addr = ipaddr.process(ip);
  if (addr.kind() === 'ipv4') return addr.toString();
  const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
}

/**
 * Per-IP fixed-window limits on the auth endpoints, counted per client network (clientNetwork),
 * kept in the shared limits store (Redis across replicas, in process on the embedded backend) and
 * driven by the injected clock.
 *
 * Why not @fastify/rate-limit: its Redis store lets Redis expire the window (PTTL on the server's
 * own time), so the injected clock cannot move it and tests would have to sleep; the in-process
 * store reads Date.now(). Its custom-store hook would only wrap this same store, and it would add
 * a second 429 path beside the AppError → error-handler one. One call here is all a route needs.
 */
export function createIpLimiter(deps: { limits: LimitsStore; clock: Clock; config: IpLimitsConfig }): IpLimiter {
  const { limits, clock, config } = deps;
  const limitOf: Record<IpLimitedAction, number> = {
    request: config.requestCodePerIp,
    verify: config.verifyCodePerIp,
    refresh: config.refreshPerIp,
  };
  return {
    async check(action, ip) {
      await consumeOrThrow(limits, `ip:${action}:${clientNetwork(ip)}`, {
        limit: limitOf[action],
        windowMs: config.windowSeconds * 1000,
        now: clock.now(),
        message: 'Too many requests from this address; try again later.',
      });
    },
  };
}
