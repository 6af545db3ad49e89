import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** What `phone-auth login` keeps per API URL. */
export interface Credentials {
  phone_number: string;
  access_token: string;
  refresh_token: string;
  saved_at: string;
}

interface CredentialsFile {
  servers: Record<string, Credentials>;
}

/** `$XDG_CONFIG_HOME/phone-auth/credentials.json` (XDG_CONFIG_HOME defaults to ~/.config). */
export function credentialsPath(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(homedir(), '.config');
  return path.join(base, 'phone-auth', 'credentials.json');
}

async function readAll(): Promise<CredentialsFile> {
  try {
    const parsed = JSON.parse(await readFile(credentialsPath(), 'utf8')) as Partial<CredentialsFile>;
    return { servers: parsed.servers && typeof parsed.servers === 'object' ? parsed.servers : {} };
  } catch {
    return { servers: {} };
  }
}

/** Written to a temporary file (mode 0600) and renamed, so a crash never leaves half a file. */
async function writeAll(data: CredentialsFile): Promise<void> {
  const file = credentialsPath();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

export async function loadCredentials(url: string): Promise<Credentials | null> {
  return (await readAll()).servers[url] ?? null;
}

export async function saveCredentials(url: string, creds: Credentials): Promise<void> {
  const data = await readAll();
  data.servers[url] = creds;
  await writeAll(data);
}

export async function removeCredentials(url: string): Promise<void> {
  const data = await readAll();
  if (!(url in data.servers)) return;
  delete data.servers[url];
  if (Object.keys(data.servers).length === 0) await rm(credentialsPath(), { force: true });
  else await writeAll(data);
}
