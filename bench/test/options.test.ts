import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/options.js';

describe('pnpm bench options', () => {
  it('defaults to the full run: 3 interleaved rounds of 10 s after 3 s of warm-up, 64 connections', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({ quick: false, duration: 10, warmup: 3, rounds: 3, connections: 64, users: 10_000, pool: 24, only: null, build: true, write: true });
    expect(o.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(o.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('--quick shortens everything to one round of 3 s, and explicit flags still win', () => {
    expect(parseOptions(['--quick'])).toMatchObject({ quick: true, duration: 3, warmup: 1, rounds: 1, users: 3_000 });
    expect(parseOptions(['--quick', '--duration', '5', '--rounds', '2', '--users', '10000'])).toMatchObject({ duration: 5, rounds: 2, users: 10_000 });
  });

  it('reads --only, repeated --env, --results-dir and the server addresses', () => {
    const o = parseOptions(
      ['--only', 'profile, login', '--env', 'A=1', '--env', 'B=x=y', '--results-dir', '/tmp/r', '--no-build', '--no-write'],
      { BENCH_DATABASE_URL: 'postgres://u@h:1/d', BENCH_REDIS_URL: 'redis://h:2' },
    );
    expect([...(o.only ?? [])]).toEqual(['profile', 'login']);
    expect(o.apiEnv).toEqual({ A: '1', B: 'x=y' });
    expect(o).toMatchObject({ resultsDir: '/tmp/r', build: false, write: false, databaseUrl: 'postgres://u@h:1/d', redisUrl: 'redis://h:2' });
  });

  it.each([
    [['--only', 'nope'], /unknown scenario "nope"/],
    [['--only', ','], /\(none given\)/],
    [['--duration', 'x'], /--duration must be a whole number/],
    [['--duration', '0'], /--duration must be a whole number of at least 1/],
    [['--duration', ''], /--duration must be a whole number/],
    [['--connections=-3'], /--connections must be a whole number of at least 1/],
    [['--connections', '0'], /--connections must be a whole number of at least 1/],
    [['--users', '10'], /--users must be between 100 and 5000000/],
    [['--env', 'NOEQUALS'], /expected KEY=VALUE/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['--duration'], /argument missing/],
    [['extra'], /positional/],
  ])('refuses %j with a usage error', (args, message) => {
    expect(() => parseOptions(args)).toThrow(UsageError);
    expect(() => parseOptions(args)).toThrow(message);
  });

  it('--help asks for the usage instead of a run', () => {
    expect(parseOptions(['--help']).help).toBe(true);
  });
});
