// Browser test of the console (/admin), under the real CSP: an administrator whose second
// factor is a passkey in Chromium's virtual authenticator finds one user among 150, ends
// their sessions (their next request is refused), adds them to a group (the forward-auth
// endpoint, asked as a proxy asks it, sees the group), resets their authenticator app, and
// exports the audit log (the CSV holds what was done). A user who is no administrator
// gets 404 everywhere under /admin; another site's form posting to the console gets 403.
// With AXE_CORE, axe-core checks each console page (no serious or critical violation);
// with SCREENSHOTS, the console's screenshots are written there.
// Usage: node console.mjs <path to palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, launch, watch, expect, totp, stepNow } from './common.mjs';

const require = createRequire(import.meta.url);
const binary = process.argv[2];
if (!binary) { console.error('usage: node console.mjs <palisade binary>'); process.exit(2); }
const password = 'gravel orbit violet canteen';
const users = 150;

const work = mkdtempSync(join(tmpdir(), 'palisade-console-'));
const [port, authzPort] = [await freePort(), await freePort()];
const config = join(work, 'palisade.toml');
writeFileSync(config, `data_dir = "${join(work, 'data')}"
authz_listen = "127.0.0.1:${authzPort}"
trusted_proxies = ["127.0.0.1"]
client_address_header = "x-forwarded-for"

[access_control]
default_policy = "deny"

[[access_control.rules]]
domain = "app.example.com"
subject = "group:staff"
policy = "authenticated"
`);
const { server, origin } = await startServer(binary, port, ['--config', config]);
const problems = [];
const browser = await launch();
const shots = process.env.SCREENSHOTS;

// The API as a script calls it, each registration from an address of its own (through the
// trusted proxy's header), since registrations are throttled per address.
async function api(method, path, body, token, from = '198.51.100.1') {
  const headers = { 'content-type': 'application/json', origin, 'x-forwarded-for': from, 'x-forwarded-proto': 'https' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(origin + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

// The proxy's question for `cookie`'s user: may they see https://app.example.com/?
async function forwardAuth(cookie) {
  const response = await fetch(`http://127.0.0.1:${authzPort}/api/v1/authz/forward-auth`, { headers: {
    'x-forwarded-method': 'GET', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com',
    'x-forwarded-uri': '/', 'x-forwarded-for': '198.51.100.200', cookie } });
  return { status: response.status, groups: response.headers.get('remote-groups') };
}

// axe-core on a console page (CSP bypassed only for axe's own script).
const axePath = process.env.AXE_CORE ? require.resolve(join(process.env.AXE_CORE, 'axe.min.js')) : null;
async function accessible(state, path, shot) {
  for (const [scheme, viewport] of [['light', { width: 1280, height: 900 }], ['dark', { width: 360, height: 740 }]]) {
    const context = await browser.newContext({ bypassCSP: true, storageState: state, colorScheme: scheme, viewport });
    const page = await context.newPage();
    const status = (await page.goto(origin + path)).status();
    expect(status === 200, `${path}: ${status}`);
    if (axePath) {
      await page.addScriptTag({ path: axePath });
      const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
        .violations.map((v) => `${v.impact} ${v.id} at ${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(', ')}`));
      for (const v of violations) if (/^(serious|critical)/.test(v)) problems.push(`axe ${path} (${scheme}): ${v}`);
    }
    if (shots && shot) await page.screenshot({ path: join(shots, `${shot}${scheme === 'dark' ? '-dark-phone' : ''}.png`), fullPage: scheme !== 'dark' });
    await context.close();
  }
}

let evil;
try {
  // Many users; one of them, target-077, with an authenticator app and a session.
  for (let i = 0; i < users; i++) {
    const name = `target-${String(i).padStart(3, '0')}`;
    const made = await api('POST', '/api/v1/register', { username: name, email: `${name}@example.com`, password,
      display_name: `Person ${i}` }, null, `198.51.${100 + Math.floor(i / 200)}.${(i % 200) + 1}`);
    expect(made.status === 201, `${name} registered: ${made.status} ${JSON.stringify(made.json)}`);
  }
  const login = await api('POST', '/api/v1/login', { identifier: 'target-077', password });
  const app = await api('POST', '/api/v1/mfa/totp', { name: 'phone' }, login.json.token);
  const confirmed = await api('POST', `/api/v1/mfa/totp/${app.json.id}/confirm`, { code: totp(app.json.secret, stepNow()) },
    login.json.token);
  expect(confirmed.status === 200, 'her authenticator app: ' + confirmed.status);

  // The administrator: a passkey as the second factor, made an administrator on the server.
  const admin = watch(await (await browser.newContext()).newPage(), 'admin', problems);
  const cdp = await admin.context().newCDPSession(admin);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
    isUserVerified: true, automaticPresenceSimulation: true } });
  await admin.goto(origin + '/register');
  await admin.fill('#username', 'root');
  await admin.fill('#email', 'root@example.com');
  await admin.fill('#password', password);
  await Promise.all([admin.waitForURL('**/login?registered=1'), admin.click('button[type=submit]')]);
  await admin.fill('#identifier', 'root');
  await admin.fill('#password', password);
  await Promise.all([admin.waitForURL('**/account'), admin.click('button[type=submit]')]);
  await admin.click('#second-factors-link');
  await admin.fill('#passkey-name', 'this laptop');
  await admin.click('#add-passkey');
  await admin.waitForFunction(() => document.getElementById('passkey-status').textContent === 'Passkey added.');
  execFileSync(binary, ['user', 'group', 'add', 'root', 'admins', '--config', config], { stdio: 'inherit' });
  await admin.goto(origin + '/account');
  await Promise.all([admin.waitForURL('**/login'), admin.click('#logout')]);
  await admin.fill('#identifier', 'root');
  await admin.fill('#password', password);
  await Promise.all([admin.waitForURL('**/login/second-step'), admin.click('button[type=submit]')]);
  await Promise.all([admin.waitForURL('**/account'), admin.click('#second-step-passkey')]);

  // Her browser, signed in (password, then her app's code).
  const her = watch(await (await browser.newContext()).newPage(), 'target', problems);
  const signInHer = async () => {
    await her.goto(origin + '/login');
    await her.fill('#identifier', 'target-077');
    await her.fill('#password', password);
    await Promise.all([her.waitForURL('**/login/second-step'), her.click('button[type=submit]')]);
    let step = stepNow();
    while (step <= confirmedStep) { await new Promise((r) => setTimeout(r, 500)); step = stepNow(); }
    confirmedStep = step;
    await her.fill('#code', totp(app.json.secret, step));
    await Promise.all([her.waitForURL('**/account'), her.click('#verify')]);
  };
  let confirmedStep = stepNow();
  await signInHer();
  const herCookie = async () => (await her.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

  // A user who is no administrator: 404 for every console page, as for a path that is not.
  const unknown = await (await her.goto(origin + '/no-such-page')).text();
  for (const path of ['/admin', '/admin/users/root', '/admin/audit', '/admin/operations', '/admin/groups']) {
    const answer = await her.goto(origin + path);
    expect(answer.status() === 404, `${path} for a user: ${answer.status()}`);
    expect((await answer.text()) === unknown, `${path}: the same 404 as a missing page`);
  }
  await her.goto(origin + '/account');
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('status of 404')));

  // Find her among many: a prefix, then her page.
  await admin.goto(origin + '/admin');
  expect((await admin.locator('tbody tr').count()) === 50, 'the first page of 50');
  expect((await admin.locator('#next-page').count()) === 1, 'and a next page');
  await admin.fill('#q', 'TARGET-07');
  await Promise.all([admin.waitForURL('**/admin?q=TARGET-07**'), admin.click('#search')]);
  expect((await admin.locator('tbody tr').count()) === 10, 'ten match the prefix, whatever the case');
  await Promise.all([admin.waitForURL('**/admin/users/target-077'), admin.click('a[href="/admin/users/target-077"]')]);
  expect((await admin.textContent('h1')).trim() === 'target-077', 'her page');

  // End her sessions: her next request is refused.
  expect((await forwardAuth(await herCookie())).status === 403, 'not yet in the group: the app is refused');
  await Promise.all([admin.waitForURL('**done=end-sessions'), admin.click('#end-sessions')]);
  expect((await admin.textContent('[role=status]')).includes('Every session'), 'the console says so');
  await her.goto(origin + '/account');
  expect(her.url().endsWith('/login'), 'her session is over: ' + her.url());

  // Add her to a group: the forward-auth endpoint sees it for her next session.
  await admin.fill('#group-add-name', 'staff');
  await Promise.all([admin.waitForURL('**done=group-add'), admin.click('#group-add')]);
  await signInHer();
  const allowed = await forwardAuth(await herCookie());
  expect(allowed.status === 200 && (allowed.groups || '').split(',').includes('staff'),
    `the app lets her in, in group staff: ${allowed.status} ${allowed.groups}`);

  // Reset her second factors: her app is gone (and her session with it).
  await Promise.all([admin.waitForURL('**done=reset-second-factors'), admin.click('#reset-second-factors')]);
  expect((await admin.textContent('main')).includes('Second factors') && (await admin.locator('table').allTextContents())
    .every((t) => !t.includes('phone')), 'her authenticator app is gone from her page');
  await her.goto(origin + '/account');
  expect(her.url().endsWith('/login'), 'her session went with it');

  // The audit log, filtered to her, exported as CSV through the browser.
  await admin.goto(origin + '/admin/audit?user=target-077');
  expect((await admin.textContent('tbody')).includes('admin_group_added'), 'the log shows the change');
  const [download] = await Promise.all([admin.waitForEvent('download'), admin.click('#export-csv')]);
  const csv = readFileSync(await download.path(), 'utf8');
  for (const event of ['admin_sessions_ended', 'admin_group_added', 'admin_second_factors_reset']) {
    expect(csv.includes(event), `the export holds ${event}`);
  }
  expect(csv.split('\n')[0].startsWith('id,at,'), 'a CSV with its header: ' + csv.split('\n')[0]);

  // Another site's form, posting to the console with the administrator's browser: refused.
  const evilPort = await freePort();
  evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<form id="f" method="post" action="${origin}/admin/users/target-077/disable">
      <input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script>`);
  }).listen(evilPort, '127.0.0.1');
  const [refused] = await Promise.all([
    admin.waitForResponse((r) => r.url().endsWith('/admin/users/target-077/disable')),
    admin.goto(`http://127.0.0.1:${evilPort}/`),
  ]);
  expect(refused.status() === 403, 'the cross-site post is refused: ' + refused.status());
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('status of 403')));
  await admin.goto(origin + '/admin/users/target-077');
  expect(!(await admin.textContent('#status')).includes('disabled'), 'she is not disabled');

  // Every console page: axe, light and dark, desktop and phone; screenshots.
  const state = await admin.context().storageState();
  await accessible(state, '/admin?q=target-07', 'console-users');
  await accessible(state, '/admin?q=target-0', null);
  await accessible(state, '/admin/users/target-077', 'console-user');
  await accessible(state, '/admin/audit', 'console-audit');
  await accessible(state, '/admin/groups', null);
  await accessible(state, '/admin/operations', 'console-operations');

  expect(problems.length === 0, 'no CSP violation, page error or accessibility violation:\n' + problems.join('\n'));
  console.log(`console walk passed: one user found among ${users + 1}, her sessions ended, a group added `
    + `(forward-auth saw it), her factors reset, the audit log exported (${csv.split('\n').length - 2} events), `
    + `404 for a user on 5 pages, 403 for another site's post${axePath ? ', axe clean on 5 pages × 2' : ''}`);
} finally {
  await browser.close();
  server.kill();
  if (evil) evil.close();
  rmSync(work, { recursive: true, force: true });
}
