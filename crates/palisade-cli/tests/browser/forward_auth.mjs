// Browser test of forward-auth: nginx (the whole server docs/forward-auth.md shows, over TLS,
// with palisade on the documented palisade block) protects an app that
// echoes the headers it receives; Chromium asks for a page, is sent to palisade's login,
// signs in, and lands back on the page it asked for with `Remote-User` set; after signing
// out, the app is out of reach again. Fails on any CSP violation or page error.
// Usage: node forward_auth.mjs <path to palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as netServer } from 'node:net';
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

const waitForTcp = async (port, what) => {
  for (let i = 0; i < 300; i++) {
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start on ${port}`);
};

const work = mkdtempSync(join(tmpdir(), 'palisade-forward-auth-'));
const [proxyPort, palisadePort, authzPort] = [await freePort(), await freePort(), await freePort()];
const upstream = createServer((req, res) => {
  const lines = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`upstream saw ${req.url}\n${lines}\n`);
}).listen(0, '127.0.0.1');
await new Promise((r) => upstream.on('listening', r));
const upstreamPort = upstream.address().port;

// The blocks of docs/forward-auth.md, changed only in where things are.
const guide = readFileSync(join(here, '../../../../docs/forward-auth.md'), 'utf8');
const block = (name) => guide.slice(guide.indexOf(`<!-- ${name} -->`)).split('```')[1].replace(/^[a-z]+\n/, '');
const accounts = `https://accounts.example.com:${proxyPort}`;
const config = join(work, 'palisade.toml');
writeFileSync(config, `argon2_memory_kib = 8192
argon2_iterations = 1
data_dir = "${join(work, 'data')}"
` + block('palisade')
  .replace(/^listen = .*$/m, `listen = "127.0.0.1:${palisadePort}"`)
  .replace(/^authz_listen = .*$/m, `authz_listen = "127.0.0.1:${authzPort}"`)
  .replace(/^trusted_proxies = .*$/m, 'trusted_proxies = ["127.0.0.1"]')
  .replace(/^public_origin = .*$/m, `public_origin = "${accounts}"`) + `
[[access_control.rules]]
domain = "app.example.com"
policy = "authenticated"
`);
const server = spawn(binary, ['serve', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });

// One certificate for both names (made by the openssl command-line tool, not linked in).
const cert = join(work, 'cert.pem'), key = join(work, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=app.example.com',
  '-addext', 'subjectAltName=DNS:accounts.example.com,DNS:app.example.com', '-keyout', key, '-out', cert], { stdio: 'ignore' });
const site = block('nginx')
  .replaceAll('listen 443 ssl', `listen 127.0.0.1:${proxyPort} ssl`)
  .replaceAll('/etc/ssl/example.com.crt', cert)
  .replaceAll('/etc/ssl/example.com.key', key)
  .replaceAll('accounts.internal:8080', `127.0.0.1:${palisadePort}`)
  .replaceAll('accounts.internal:9091', `127.0.0.1:${authzPort}`)
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
  await waitFor(authzPort, 'palisade (forward-auth listener)');
  await waitForTcp(proxyPort, 'nginx');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run',
           '--host-resolver-rules=MAP *.example.com 127.0.0.1'],
  });
  const context = () => browser.newContext({ ignoreHTTPSErrors: true });
  // Registered in a browser of its own, through the proxy.
  const signUp = await (await context()).newPage();
  await signUp.goto(`${accounts}/register`);
  await signUp.fill('#username', 'walker');
  await signUp.fill('#email', 'walker@example.com');
  await signUp.fill('#password', password);
  await Promise.all([signUp.waitForURL((url) => url.pathname === '/login'), signUp.click('button[type=submit]')]);

  const page = await (await context()).newPage();
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

  const app = `https://app.example.com:${proxyPort}/reports/2026?q=a%20b`;
  await page.goto(app);
  expect(page.url().startsWith(`${accounts}/login?rd=`), 'sent to the login page: ' + page.url());
  await page.fill('#identifier', 'walker');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(app), page.click('button[type=submit]')]);
  const text = await page.textContent('body');
  expect(text.includes('upstream saw /reports/2026?q=a%20b'), 'back on the page asked for: ' + text);
  expect(text.includes('remote-user: walker'), 'the app is told who it is: ' + text);

  // Sign out on the accounts site: the app is out of reach again.
  await page.goto(`${accounts}/account`);
  await Promise.all([page.waitForURL('**/login'), page.click('#logout')]);
  await page.goto(app);
  expect(page.url().startsWith(`${accounts}/login?rd=`), 'signed out everywhere: ' + page.url());
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
