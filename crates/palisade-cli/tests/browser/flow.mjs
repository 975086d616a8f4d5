// Browser test: register → log in → account page → end another session → log out, in
// headless Chromium, failing on any CSP violation or page error.
// Usage: node flow.mjs <path to palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');
const binary = process.argv[2];
if (!binary) { console.error('usage: node flow.mjs <palisade binary>'); process.exit(2); }

const work = mkdtempSync(join(tmpdir(), 'palisade-browser-'));
const server = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(work, 'data')], {
  env: { ...process.env, PALISADE_ARGON2_MEMORY_KIB: '8192', PALISADE_ARGON2_ITERATIONS: '1' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const origin = await new Promise((resolve, reject) => {
  let text = '';
  const timer = setTimeout(() => reject(new Error('server did not start: ' + text)), 30000);
  server.stderr.on('data', (chunk) => {
    text += chunk;
    const m = text.match(/listening on (\S+)\n/); // the whole line: a chunk may end mid-port
    if (m) { clearTimeout(timer); resolve('http://' + m[1]); }
  });
  server.on('exit', (code) => reject(new Error('server exited ' + code + ': ' + text)));
});

const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run'],
});
function watch(page, name) {
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || /Content Security Policy|Refused to/i.test(text)) problems.push(`${name} console: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${name} page error: ${err.message}`));
  return page;
}
function expect(cond, what) { if (!cond) throw new Error('expectation failed: ' + what); }

try {
  const a = watch(await (await browser.newContext()).newPage(), 'A');
  await a.goto(origin + '/register');
  await a.fill('#username', 'browser-user');
  await a.fill('#email', 'browser@example.com');
  await a.fill('#display_name', 'Browser <User>');
  await a.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([a.waitForURL('**/login?registered=1'), a.click('button[type=submit]')]);
  expect((await a.textContent('main')).includes('Your account is ready'), 'registration notice');
  if (process.env.SCREENSHOTS) {
    await a.setViewportSize({ width: 900, height: 480 });
    await a.screenshot({ path: join(process.env.SCREENSHOTS, 'login.png') });
  }

  async function logIn(page) {
    await page.goto(origin + '/login');
    await page.fill('#identifier', 'browser-user');
    await page.fill('#password', 'gravel orbit violet canteen');
    await Promise.all([page.waitForURL('**/account'), page.click('button[type=submit]')]);
  }
  await logIn(a);
  expect((await a.textContent('h1')).includes('Browser <User>'), 'display name shown as text');
  const shots = process.env.SCREENSHOTS; // a directory: save what a person sees, for the README

  const cookies = await a.context().cookies();
  const session = cookies.find((c) => c.name === '__Host-palisade-session');
  expect(session && session.httpOnly && session.secure && session.sameSite === 'Lax', 'hardened session cookie');

  await a.click('#secrets-link');
  await a.fill('#name', 'db.password');
  await a.fill('#value', 'hunter2 <b>not bold</b>');
  await a.click('button:has-text("Store")');
  expect((await a.textContent('main')).includes('Stored.'), 'secret stored');
  await a.click('button:has-text("Reveal")');
  expect((await a.textContent('#revealed-value')) === 'hunter2 <b>not bold</b>', 'secret revealed as text');
  await a.goto(origin + '/account');

  const b = watch(await (await browser.newContext()).newPage(), 'B');
  await logIn(b);

  await a.reload();
  if (shots) {
    await a.setViewportSize({ width: 900, height: 760 });
    await a.screenshot({ path: join(shots, 'account.png') });
  }
  const ends = a.locator('button[name=end]');
  expect(await ends.count() === 1, 'one other session listed');
  await Promise.all([a.waitForURL('**/account?done=session'), ends.first().click()]);
  expect((await a.textContent('main')).includes('Session ended'), 'session ended notice');

  await b.goto(origin + '/account');
  expect(b.url().endsWith('/login'), 'the ended session is signed out: ' + b.url());

  await Promise.all([a.waitForURL('**/login'), a.click('#logout')]);
  await a.goto(origin + '/account');
  expect(a.url().endsWith('/login'), 'logged out');
  expect(problems.length === 0, 'no CSP violation or page error:\n' + problems.join('\n'));
  console.log('browser flow passed: register, log in, account, end another session, log out; no CSP violations');
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
