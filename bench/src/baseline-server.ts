import Fastify from 'fastify';
import pg from 'pg';

/**
 * The baselines, started as their own process like the API:
 *   GET /constant  a bare Fastify route returning a constant — the HTTP floor;
 *   GET /select    a bare Fastify route doing one indexed Postgres select (by the unique phone
 *                  index) through a pg pool of the API's size — the floor of any endpoint that
 *                  needs the database.
 * Env: PORT, DATABASE_URL, DATABASE_POOL_SIZE.
 */
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
  application_name: 'phone-auth-bench-baseline',
});
const app = Fastify({ logger: false });

app.get('/constant', async () => ({ ok: true }));

app.get<{ Querystring: { phone?: string } }>('/select', async (request, reply) => {
  const result = await pool.query<{ id: string; phone_number: string; invite_code: string }>(
    'select id, phone_number, invite_code from users where phone_number = $1',
    [request.query.phone ?? ''],
  );
  const row = result.rows[0];
  if (!row) return reply.code(404).send({ error: 'not found' });
  return row;
});

const port = Number(process.env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => {
  void app.close().then(() => pool.end()).then(() => process.exit(0));
});
