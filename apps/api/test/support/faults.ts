import { sql } from 'kysely';
import type { TestApp } from './app.js';

/**
 * The app's next denylist write fails as if Redis had gone away (the error ioredis gives for a
 * closed connection, which the API answers with 503); the writes after it work again.
 */
export function failNextDenylistWrite(t: TestApp): void {
  const denylist = t.deps.stores.denylist;
  const add = denylist.add;
  denylist.add = async () => {
    denylist.add = add;
    throw new Error('Connection is closed.');
  };
}

/**
 * Runs `during` while Postgres refuses every insert into `sessions` — a trigger raising `message`
 * (with SQLSTATE `sqlstate` when given; 57P03 reads as the server going away, a plain exception as
 * a bug) — and removes the trigger afterwards, whatever `during` did. Both backends run plpgsql.
 */
export async function whileSessionInsertsFail<T>(
  t: TestApp,
  error: { message: string; sqlstate?: string },
  during: () => Promise<T>,
): Promise<T> {
  const db = t.deps.database.db;
  const code = error.sqlstate ? sql` using errcode = ${sql.lit(error.sqlstate)}` : sql``;
  await sql`create function test_refuse_sessions() returns trigger language plpgsql as $$
    begin raise exception ${sql.lit(error.message)}${code}; end $$`.execute(db);
  try {
    await sql`create trigger test_refuse_sessions before insert on sessions for each row execute function test_refuse_sessions()`.execute(db);
    try {
      return await during();
    } finally {
      await sql`drop trigger test_refuse_sessions on sessions`.execute(db);
    }
  } finally {
    await sql`drop function test_refuse_sessions()`.execute(db);
  }
}
