// Browser test of forward-auth: nginx (configured as docs/forward-auth.md shows) protects an app that
// echoes the headers it receives; Chromium asks for a page, is sent to palisade's login,
// signs in, and lands back on the page it asked for with `Remote-User` set; after signing
// out, the app is out of reach again. Fails on any CSP violation or page error.
// Usage: node forward_auth.mjs <path to palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');
const binary = process.argv[2];
if (!binary) { console.error('usage: node forward_auth.mjs <palisade binary>'); process.exit(2); }
const here = dirname(fileURLToPath(import.meta.url));
const password = 'gravel orbit violet canteen';

const freePort = () => new Promise((resolve) => {
  const s = netServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const waitFor = async (port, what) => {
  for (let i = 0; i < 300; i++) {
    try { await fetch(`http://127.0.0.1:${port}/`); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  throw new Error(`${what} did not start on ${port}`);
};

const work = mkdtempSync(join(tmpdir(), 'palisade-forward-auth-'));
const [proxyPort, palisadePort] = [await freePort(), await freePort()];
const upstream = createServer((req, res) => {
  const lines = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`upstream saw ${req.url}\n${lines}\n`);
}).listen(0, '127.0.0.1');
await new Promise((r) => upstream.on('listening', r));
const upstreamPort = upstream.address().port;

const config = join(work, 'palisade.toml');
writeFileSync(config, `
public_origin = "http://127.0.0.1:${palisadePort}"
trusted_proxies = ["127.0.0.1"]
argon2_memory_kib = 8192
argon2_iterations = 1

[[access_control.rules]]
domain = "127.0.0.1"
policy = "authenticated"
`);
const server = spawn(binary, ['serve', '--config', config, '--listen', `127.0.0.1:${palisadePort}`,
  '--data-dir', join(work, 'data')], { stdio: ['ignore', 'ignore', 'inherit'] });

// The nginx server block exactly as docs/forward-auth.md gives it, ports filled in.
const readme = readFileSync(join(here, '../../../../docs/forward-auth.md'), 'utf8');
const block = readme.slice(readme.indexOf('<!-- nginx -->')).split('```')[1].replace(/^nginx\n/, '');
const site = block
  .replace('listen 443 ssl;', `listen 127.0.0.1:${proxyPort};`)
  .replaceAll('accounts.internal:8080', `127.0.0.1:${palisadePort}`)
  .replaceAll('app.internal:3000', `127.0.0.1:${upstreamPort}`);
const prefix = join(work, 'nginx');
mkdirSync(join(prefix, 'logs'), { recursive: true });
writeFileSync(join(prefix, 'nginx.conf'), `daemon off; worker_processes 1; pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events {}
http { access_log off; client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
${site}
}`);
const nginx = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'inherit' });

const problems = [];
let browser;
function expect(cond, what) { if (!cond) throw new Error('expectation failed: ' + what); }
try {
  await waitFor(palisadePort, 'palisade');
  await waitFor(proxyPort, 'nginx');
  const registered = await fetch(`http://127.0.0.1:${palisadePort}/api/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${palisadePort}` },
    body: JSON.stringify({ username: 'walker', email: 'walker@example.com', password }),
  });
  expect(registered.status === 201, 'registered: ' + registered.status);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await (await browser.newContext()).newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  const app = `http://127.0.0.1:${proxyPort}/reports/2026?q=a%20b`;
  await page.goto(app);
  expect(page.url().startsWith(`http://127.0.0.1:${palisadePort}/login?rd=`), 'sent to the login page: ' + page.url());
  await page.fill('#identifier', 'walker');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(app), page.click('button[type=submit]')]);
  const text = await page.textContent('body');
  expect(text.includes('upstream saw /reports/2026?q=a%20b'), 'back on the page asked for: ' + text);
  expect(text.includes('remote-user: walker'), 'the app is told who it is: ' + text);

  // Sign out on the accounts site: the app is out of reach again.
  await page.goto(`http://127.0.0.1:${palisadePort}/account`);
  await Promise.all([page.waitForURL('**/login'), page.click('#logout')]);
  await page.goto(app);
  expect(page.url().startsWith(`http://127.0.0.1:${palisadePort}/login?rd=`), 'signed out everywhere: ' + page.url());
  expect(problems.length === 0, 'no CSP violation or page error:\n' + problems.join('\n'));
  console.log('forward-auth browser flow passed: app → login → back to the app with Remote-User → sign out → login again');
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  nginx.kill();
  server.kill();
  upstream.close();
  rmSync(work, { recursive: true, force: true });
}
