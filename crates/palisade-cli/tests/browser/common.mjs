// What the browser tests share: a free port, `palisade serve` started and stopped, headless
// Chromium launched as the CI machine allows, console/CSP watching, RFC 6238 codes.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { createServer as netServer } from 'node:net';

const require = createRequire(import.meta.url);
export const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

export const freePort = () => new Promise((resolve) => {
  const s = netServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

// Starts `palisade serve` with `args` (and `env`) and resolves once it listens; pages are
// visited as localhost (passkeys need a host name).
export async function startServer(binary, port, args, env = {}) {
  const server = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, PALISADE_ARGON2_MEMORY_KIB: '8192', PALISADE_ARGON2_ITERATIONS: '1',
           PALISADE_PUBLIC_ORIGIN: `http://localhost:${port}`, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const origin = await new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + text)), 30000);
    server.stderr.on('data', (chunk) => {
      text += chunk;
      if (/listening on (\S+)\n/.test(text)) { clearTimeout(timer); resolve(`http://localhost:${port}`); }
    });
    server.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + text)));
  });
  return { server, origin };
}

export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run'],
});

// Records console errors, CSP refusals and page errors of `page` into `problems`.
export function watch(page, name, problems) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(text)) problems.push(`${name} console: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${name} page error: ${err.message}`));
  return page;
}

export function expect(cond, what) { if (!cond) throw new Error('expectation failed: ' + what); }

// RFC 6238 as an authenticator app computes it: HMAC-SHA-1, 30 s, 6 digits.
export function totp(base32, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[19] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, '0');
}
export const stepNow = () => Math.floor(Date.now() / 30000);

// The link in the newest message to `to` whose subject starts with `subject`, as a mail
// client shows it (the service writes .eml files into `dataDir/outbox` without SMTP).
export async function mailedLink(dataDir, to, subject, after = new Set()) {
  const dir = join(dataDir, 'outbox');
  for (let i = 0; i < 100; i++) {
    let names = [];
    try { names = readdirSync(dir); } catch { names = []; }
    for (const name of names) {
      if (after.has(name)) continue;
      const raw = readFileSync(join(dir, name), 'utf8').replace(/\r\n/g, '\n');
      if (!raw.includes(`\nTo: ${to}\n`) || !raw.includes(`\nSubject: ${subject}`)) continue;
      const text = raw.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      const m = text.match(/http:\/\/\S+\?token=[A-Za-z0-9_-]{43}/);
      if (m) return { link: m[0], name };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no message "${subject}" to ${to}`);
}
