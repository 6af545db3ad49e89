import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations use Kysely<any> and never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('phone_number', 'text', (col) => col.notNull())
    .addColumn('invite_code', 'text', (col) => col.notNull())
    .addColumn('invited_by', 'uuid', (col) => col.references('users.id'))
    .addColumn('invite_activated_at', 'timestamptz')
    .addColumn('invited_count', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('blocked_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // One user per phone, even when two first logins race.
    .addUniqueConstraint('users_phone_number_key', ['phone_number'])
    // Invite codes are unique; an insert that collides is retried with a new code.
    .addUniqueConstraint('users_invite_code_key', ['invite_code'])
    .addCheckConstraint('users_invite_code_format', sql`invite_code ~ '^[2-9A-HJKMNP-Z]{6}$'`)
    .addCheckConstraint('users_phone_number_e164', sql`phone_number ~ '^\\+[1-9][0-9]{6,14}$'`)
    .addCheckConstraint('users_invite_not_self', sql`invited_by <> id`)
    .addCheckConstraint(
      'users_invite_activation_consistent',
      sql`(invited_by is null) = (invite_activated_at is null)`,
    )
    .addCheckConstraint('users_invited_count_nonnegative', sql`invited_count >= 0`)
    .execute();

  // Keyset pagination of a user's invitees, oldest activation first.
  await db.schema
    .createIndex('users_invited_by_activation_idx')
    .on('users')
    .columns(['invited_by', 'invite_activated_at', 'id'])
    .where(sql.ref('invited_by'), 'is not', null)
    .execute();
  await db.schema.createIndex('users_created_at_idx').on('users').column('created_at').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (col) => col.primaryKey())
    .addColumn('user_id', 'uuid', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_reason', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('refresh_tokens')
    .addColumn('token_hash', 'bytea', (col) => col.primaryKey())
    .addColumn('session_id', 'uuid', (col) => col.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (col) => col.notNull())
    .addColumn('spent_at', 'timestamptz')
    .addCheckConstraint('refresh_tokens_hash_length', sql`octet_length(token_hash) = 32`)
    .execute();
  await db.schema
    .createIndex('refresh_tokens_session_id_idx')
    .on('refresh_tokens')
    .column('session_id')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('refresh_tokens').execute();
  await db.schema.dropTable('sessions').execute();
  await db.schema.dropTable('users').execute();
}
