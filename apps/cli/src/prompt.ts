import { createInterface, type Interface } from 'node:readline';

let rl: Interface | null = null;
const queued: string[] = [];
const waiting: ((line: string | null) => void)[] = [];
let closed = false;

/**
 * One reader for the whole process, so lines piped in together (`printf '+7…\n1234\n' |`) are
 * all kept, whichever prompt asks first.
 */
function reader(): Interface {
  if (rl) return rl;
  rl = createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  });
  rl.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w(null);
  });
  return rl;
}

/** Writes the prompt to stderr (stdout stays clean for --json) and reads one line; null at EOF. */
export async function ask(prompt: string): Promise<string | null> {
  process.stderr.write(prompt);
  reader();
  const line = queued.shift();
  if (line !== undefined) return line.trim();
  if (closed) return null;
  const answer = await new Promise<string | null>((resolve) => waiting.push(resolve));
  return answer === null ? null : answer.trim();
}

export function closePrompt(): void {
  rl?.close();
  rl = null;
}
