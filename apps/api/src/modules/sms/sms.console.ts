import { maskPhone } from '../../lib/phone.js';
import type { SmsSender } from './sms.sender.js';

/**
 * Development provider: prints the masked phone and the code to stdout, on a line of its own
 * outside the structured log (which never carries codes).
 */
export function createConsoleSms(write: (line: string) => void = (l) => process.stdout.write(l)): SmsSender {
  return {
    name: 'console',
    async send({ to, code }) {
      write(`[sms:console] code for ${maskPhone(to)}: ${code}\n`);
    },
  };
}
