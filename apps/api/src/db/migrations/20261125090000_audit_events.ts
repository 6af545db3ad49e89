import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations use Kysely<any> and never import application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigint', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('user_id', 'uuid', (col) => col.references('users.id').onDelete('set null'))
    .addColumn('phone_number', 'text')
    .addColumn('ip', 'text')
    .addColumn('details', 'jsonb')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();
  // Lookups by user, by phone, by type and by time, newest first (keyset on id).
  await db.schema.createIndex('audit_events_user_idx').on('audit_events').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('audit_events_phone_idx').on('audit_events').columns(['phone_number', 'id']).execute();
  await db.schema.createIndex('audit_events_type_idx').on('audit_events').columns(['type', 'id']).execute();
  await db.schema.createIndex('audit_events_created_at_idx').on('audit_events').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
}
