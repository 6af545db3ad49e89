import { AuditEventType } from '@phone-auth/client';
import { Option, type Command } from 'commander';
import { contextOf, positiveInt } from '../context.js';
import { print, printJson, printTable } from '../output.js';

export function registerAdminAudit(admin: Command): void {
  admin
    .command('audit')
    .description('read the audit log, newest first, one page at a time')
    .option('--phone <phone>', 'only events of this phone number')
    .addOption(new Option('--type <type>', 'only events of this type').choices(AuditEventType.options))
    .option('--limit <n>', 'events per page (1-1000)', positiveInt(1000), 50)
    .option('--cursor <cursor>', 'continue after a previous page')
    .action(async (opts: { phone?: string; type?: AuditEventType; limit: number; cursor?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const page = await ctx.admin().admin.audit({ phone: opts.phone, type: opts.type, limit: opts.limit, cursor: opts.cursor });
      if (ctx.json) return printJson(page);
      if (page.items.length === 0) return print('No events.');
      printTable(
        ['TIME', 'TYPE', 'PHONE', 'IP', 'DETAILS'],
        page.items.map((e) => [e.created_at, e.type, e.phone_number, e.ip, e.details ? JSON.stringify(e.details) : null]),
      );
      if (page.next_cursor) print(`\nMore: phone-auth admin audit --cursor ${page.next_cursor}`);
    });
}
