// Apache httpd with mod_auth_openidc (an OpenID-certified relying party), configured with
// docs/oidc.md's blocks, protects a directory; headless Chromium signs in through palisade
// (password, second factor, consent), the page shows the claims, the app's logout goes
// through palisade's end_session_endpoint, and a session ended in palisade ends
// mod_auth_openidc's session by back-channel logout. Fails on any CSP violation or page
// error on palisade's pages.
// Usage: node apache.mjs <palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createHash, createHmac, randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');
const binary = process.argv[2];
if (!binary) { console.error('usage: node apache.mjs <palisade binary>'); process.exit(2); }
const here = dirname(fileURLToPath(import.meta.url));
const password = 'gravel orbit violet canteen';
function expect(cond, what) { if (!cond) throw new Error('expectation failed: ' + what); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const s = netServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
// RFC 6238 as an authenticator app computes it.
function totp(base32, step) {
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

const work = mkdtempSync(join(tmpdir(), 'palisade-apache-'));
chmodSync(work, 0o755); // Apache's workers (www-data) read the pages
const [palisadePort, apachePort] = [await freePort(), await freePort()];
// Passkeys and __Host- cookies want a secure context: palisade is visited as localhost.
const accounts = `http://localhost:${palisadePort}`;
const app = `http://127.0.0.1:${apachePort}`;
const secret = randomBytes(32).toString('base64url');

// docs/oidc.md's blocks, changed only in where things are and the secrets.
const guide = readFileSync(join(here, '../../../../docs/oidc.md'), 'utf8');
const block = (name) => guide.slice(guide.indexOf(`<!-- ${name} -->`)).split('```')[1].replace(/^[a-z]+\n/, '');
const moved = (text) => text.replaceAll('https://accounts.example.com', accounts).replaceAll('https://app.example.com', app)
  .replaceAll('https%3A%2F%2Fapp.example.com', encodeURIComponent(app));
const config = join(work, 'palisade.toml');
writeFileSync(config, `listen = "127.0.0.1:${palisadePort}"
public_origin = "${accounts}"
data_dir = "${join(work, 'data')}"
argon2_memory_kib = 8192
argon2_iterations = 1
` + moved(block('palisade')).replace(/^secret_sha256 = .*$/m, `secret_sha256 = "${createHash('sha256').update(secret).digest('hex')}"`));
const server = spawn(binary, ['serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
server.stderr.on('data', (chunk) => { log += chunk; });
for (let i = 0; i < 300 && !/listening on \S+\n/.test(log); i++) await sleep(100);
expect(/listening on/.test(log), 'palisade started: ' + log);

// The app: a page that shows who mod_auth_openidc says is signed in.
const www = join(work, 'www');
mkdirSync(join(www, 'protected'), { recursive: true });
writeFileSync(join(www, 'protected', 'index.shtml'),
  '<p id="user"><!--#echo var="REMOTE_USER" --></p><p id="email"><!--#echo var="OIDC_CLAIM_email" --></p>\n');
writeFileSync(join(www, 'signed-out.html'), '<p id="signed-out">signed out of the app</p>\n');
const modules = '/usr/lib/apache2/modules';
const load = (name, file) => `LoadModule ${name}_module ${modules}/mod_${file || name}.so`;
const httpd = join(work, 'httpd.conf');
writeFileSync(httpd, [
  load('mpm_event'), load('authz_core'), load('authz_user'), load('authn_core'), load('mime'),
  load('include'), load('auth_openidc'),
  `ServerName 127.0.0.1`, `Listen 127.0.0.1:${apachePort}`,
  `PidFile ${join(work, 'httpd.pid')}`, `ErrorLog ${join(work, 'error.log')}`, 'LogLevel warn auth_openidc:info',
  `DefaultRuntimeDir ${work}`, 'User www-data', 'Group www-data', 'TypesConfig /etc/mime.types',
  `DocumentRoot ${www}`,
  `<Directory ${www}>`, '  Options +Includes', '  AddOutputFilter INCLUDES .shtml', '  AddType text/html .shtml', '  Require all granted', '</Directory>',
  moved(block('mod_auth_openidc')).replace('CLIENT_SECRET', secret).replace('CRYPTO_PASSPHRASE', randomBytes(24).toString('hex')),
].join('\n') + '\n');
try { execFileSync('/usr/sbin/apache2', ['-f', httpd, '-t'], { stdio: 'pipe' }); } catch (e) { throw new Error('apache configuration: ' + e.stderr); }
const apache = spawn('/usr/sbin/apache2', ['-f', httpd, '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'] });
let apacheLog = '';
apache.stderr.on('data', (chunk) => { apacheLog += chunk; });
for (let i = 0; i < 100; i++) {
  try { await fetch(`${app}/signed-out.html`); break; } catch { await sleep(100); }
}

const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP localhost 127.0.0.1'],
});
let exit = 1;
try {
  // A user with an authenticator app.
  const api = async (path, body, token) => {
    const res = await fetch(accounts + path, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: accounts, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  };
  expect((await api('/api/v1/register', { username: 'ada', email: 'ada@example.com', password })).status === 201, 'registered');
  const token = (await api('/api/v1/login', { identifier: 'ada', password })).json.token;
  const added = await api('/api/v1/mfa/totp', { name: 'phone', password }, token);
  expect(added.status === 201 || added.status === 200, 'TOTP added: ' + JSON.stringify(added.json));
  const totpSecret = added.json.secret;
  let step = Math.floor(Date.now() / 30000);
  const confirmed = await api(`/api/v1/mfa/totp/${added.json.id}/confirm`, { code: totp(totpSecret, step) }, token);
  expect(confirmed.status === 200, 'TOTP confirmed: ' + JSON.stringify(confirmed.json));

  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (page.url().startsWith(accounts) && (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(msg.text()))) {
      problems.push(`console on ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const signIn = async (consent) => {
    await page.goto(`${app}/protected/index.shtml`);
    await page.waitForURL(`${accounts}/login?**`);
    await page.fill('#identifier', 'ada');
    await page.fill('#password', password);
    await Promise.all([page.waitForURL('**/login/second-step**'), page.click('button[type=submit]')]);
    // A step the confirmation did not use.
    while (Math.floor(Date.now() / 30000) === step) await sleep(500);
    step = Math.floor(Date.now() / 30000);
    await page.fill('#code', totp(totpSecret, step));
    await page.click('button[type=submit]');
    if (consent) {
      await page.waitForSelector('#consent-allow');
      expect((await page.textContent('#consent-app')).includes('The app'), 'the consent page names the app');
      await page.click('#consent-allow');
    }
    await page.waitForURL(`${app}/protected/**`);
    await page.waitForSelector('#user');
  };

  await signIn(true);
  expect((await page.textContent('#user')).trim() === 'ada', 'REMOTE_USER is the preferred_username: ' + await page.content());
  expect((await page.textContent('#email')).trim() === 'ada@example.com', 'the email claim');

  // The app's logout: through palisade's end_session_endpoint, back to the app.
  await page.goto(`${app}/protected/redirect_uri?logout=${encodeURIComponent(`${app}/signed-out.html`)}`);
  await page.waitForURL(`${app}/signed-out.html**`);
  await page.goto(`${accounts}/account`);
  expect(page.url().startsWith(`${accounts}/login`), 'palisade session ended by RP-initiated logout: ' + page.url());

  // Signed in again (consent remembered); then the session ends in palisade: the app's
  // session ends by back-channel logout.
  await signIn(false);
  expect((await page.textContent('#user')).trim() === 'ada', 'signed in again');
  execFileSync(binary, ['user', 'end-sessions', 'ada', '--config', config], { stdio: 'pipe' });
  let ended = false;
  for (let i = 0; i < 30 && !ended; i++) {
    await sleep(500);
    await page.goto(`${app}/protected/index.shtml`);
    ended = page.url().startsWith(accounts);
  }
  expect(ended, 'the app session ended by back-channel logout; apache log:\n' + readFileSync(join(work, 'error.log'), 'utf8').slice(-3000));
  expect(problems.length === 0, 'no CSP violation or page error: ' + problems.join('\n'));
  console.log('mod_auth_openidc: sign-in with a second factor and consent, claims, RP-initiated logout, back-channel logout: passed');
  exit = 0;
} catch (e) {
  console.error(e);
  console.error('palisade log:\n' + log.split('\n').slice(-30).join('\n'));
  try { console.error('apache log:\n' + readFileSync(join(work, 'error.log'), 'utf8').slice(-4000)); } catch {}
} finally {
  await browser.close();
  apache.kill();
  server.kill();
  await sleep(300);
  rmSync(work, { recursive: true, force: true });
}
process.exit(exit);
