// The interface as people meet it, in headless Chromium: every page, in light and dark, at
// a 360 px phone and a desktop width, checked by axe-core (no serious or critical
// violation), every control reached by the keyboard, the stylesheet and the operator's
// accent colour applied under the strict CSP (no violation), sessions named for people;
// and the screenshots for the README and the book (SCREENSHOTS=<dir>).
// Usage: node look.mjs <palisade binary>   (PLAYWRIGHT_CORE, AXE_CORE: module directories)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { freePort, startServer, launch, watch, expect, totp, stepNow, mailedLink } from './common.mjs';

const require = createRequire(import.meta.url);
const axePath = require.resolve(join(process.env.AXE_CORE || 'axe-core', 'axe.min.js'));
const binary = process.argv[2];
if (!binary) { console.error('usage: node look.mjs <palisade binary>'); process.exit(2); }

const work = mkdtempSync(join(tmpdir(), 'palisade-look-'));
const port = await freePort();
writeFileSync(join(work, 'logo.svg'),
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b7a55"/>'
  + '<path d="M8 22V10h9a5 5 0 0 1 0 10h-5" stroke="#fff" stroke-width="3" fill="none"/></svg>');
writeFileSync(join(work, 'palisade.toml'), `
site_name = "Quillmarsh Lending"
accent_colour = "#0b7a55"
logo_file = "${join(work, 'logo.svg')}"

[[oidc.clients]]
id = "wiki"
name = "Team wiki"
public = true
redirect_uris = ["http://127.0.0.1:9/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:9/signed-out"]
`);
const { server, origin } = await startServer(binary, port,
  ['--config', join(work, 'palisade.toml'), '--data-dir', join(work, 'data')]);
const problems = [];
const browser = await launch();
const shots = process.env.SCREENSHOTS;
const variants = [
  { name: 'light desktop', colorScheme: 'light', viewport: { width: 1280, height: 800 } },
  { name: 'dark desktop', colorScheme: 'dark', viewport: { width: 1280, height: 800 } },
  { name: 'light phone', colorScheme: 'light', viewport: { width: 360, height: 740 } },
  { name: 'dark phone', colorScheme: 'dark', viewport: { width: 360, height: 740 } },
];
const password = 'gravel orbit violet canteen';

// axe-core on the page as it is: serious and critical violations fail, the rest are counted.
async function audit(page, label, tally) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length,
      where: v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ') }));
  });
  for (const v of result) {
    tally[`${v.impact} ${v.id}`] = (tally[`${v.impact} ${v.id}`] || 0) + 1;
    if (v.impact === 'serious' || v.impact === 'critical') problems.push(`axe ${label}: ${v.impact} ${v.id} at ${v.where}`);
  }
}

// Tabs through the page: every visible control must take the focus.
async function keyboard(page, label) {
  const wanted = await page.evaluate(() => {
    const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')];
    // checkVisibility: rendered, not `visibility: hidden`, not inside a closed <details>.
    const shown = all.filter((el) => !el.disabled && el.checkVisibility({ visibilityProperty: true }));
    shown.forEach((el, i) => el.setAttribute('data-kb', String(i)));
    return shown.length;
  });
  const reached = new Set();
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 0; i < wanted + 5 && reached.size < wanted; i++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-kb'));
    if (at !== null) reached.add(at);
  }
  if (reached.size < wanted) {
    const missed = await page.evaluate((seen) => [...document.querySelectorAll('[data-kb]')]
      .filter((el) => !seen.includes(el.getAttribute('data-kb'))).map((el) => el.outerHTML.slice(0, 80)), [...reached]);
    problems.push(`keyboard ${label}: reached ${reached.size} of ${wanted} controls; not: ${missed.join(' | ')}`);
  }
  return wanted;
}

const pagesChecked = [];
const tally = {};
// Every variant of `path` for the browser state `state` (cookies), plus the keyboard walk.
async function checkAll(path, state, shot) {
  for (const v of variants) {
    const context = await browser.newContext({ colorScheme: v.colorScheme, viewport: v.viewport,
      bypassCSP: true, storageState: state });
    const page = await context.newPage();
    const response = await page.goto(origin + path);
    expect(response.status() < 500, `${path}: ${response.status()}`);
    await audit(page, `${path} (${v.name})`, tally);
    if (shots && shot && shot[v.name]) await page.screenshot({ path: join(shots, shot[v.name]), fullPage: true });
    await context.close();
  }
  // The keyboard walk and the CSP: the real policy, no bypass.
  const context = await browser.newContext({ storageState: state, viewport: { width: 1280, height: 800 } });
  const seen = [];
  const page = watch(await context.newPage(), path, seen);
  const status = (await page.goto(origin + path)).status();
  // A page meant as an error (400 for a bad link) logs its own status: that is no problem.
  problems.push(...seen.filter((p) => !(status >= 400 && p.includes(`status of ${status}`))));
  const controls = await keyboard(page, path);
  await context.close();
  pagesChecked.push(`${path.replace(/token=[^&]+/, 'token=…').replace(/\?response_type.*/, '?…')} (${controls} controls)`);
}

try {
  const a = watch(await (await browser.newContext()).newPage(), 'A', problems);
  await a.goto(origin + '/register');
  await a.fill('#username', 'look-user');
  await a.fill('#email', 'look@example.com');
  await a.fill('#display_name', 'Ada Lovelace');
  await a.fill('#password', password);
  await Promise.all([a.waitForURL('**/login?registered=1'), a.click('button[type=submit]')]);

  // The stylesheet (hashed name, kept a year) and the accent colour apply under the CSP.
  const href = await a.getAttribute('link[rel=stylesheet]', 'href');
  expect(/^\/assets\/style\.[0-9a-f]{16}\.css$/.test(href), 'a hashed stylesheet: ' + href);
  const css = await a.request.get(origin + href);
  expect(css.headers()['cache-control'].includes('immutable'), 'the stylesheet is kept: ' + css.headers()['cache-control']);
  const body = await css.text();
  expect(href.includes(createHash('sha256').update(body).digest('hex').slice(0, 16)), 'its name is its hash');
  const button = await a.evaluate(() => getComputedStyle(document.querySelector('main button.primary')).backgroundColor);
  expect(button === 'rgb(11, 122, 85)', 'the accent colour on the primary button: ' + button);
  const logo = await a.getAttribute('header img', 'src');
  expect(/^\/assets\/logo\.[0-9a-f]{16}\.svg$/.test(logo || ''), 'the logo: ' + logo);
  expect((await a.title()).includes('Quillmarsh Lending'), 'the site name');

  await a.fill('#identifier', 'look-user');
  await a.fill('#password', password);
  await Promise.all([a.waitForURL('**/account'), a.click('button[type=submit]')]);
  const browserCell = (await a.textContent('td[data-label="Browser"]')).trim();
  expect(/^Chrome on Linux/.test(browserCell) && browserCell.includes('this session'), 'the session named for people: ' + browserCell);
  const when = await a.locator('td[data-label="Signed in"] time').first();
  expect((await when.textContent()).trim() === 'just now' && /UTC$/.test(await when.getAttribute('title')), 'a time said as people say it');

  // A second factor, a token and a secret, so their pages show what they list.
  await a.click('#second-factors-link');
  await a.fill('#name', 'phone');
  await a.click('#add-app');
  const secret = (await a.textContent('#totp-secret')).trim();
  await a.fill('#confirm_code', totp(secret, stepNow()));
  await a.click('#confirm');
  const codes = (await a.textContent('#codes')).trim().split('\n');
  await a.goto(origin + '/account/tokens');
  await a.fill('#name', 'deploy script');
  await a.click('form[action="/account/tokens"] button[type=submit]');
  await a.goto(origin + '/account/secrets');
  await a.fill('#name', 'db.password');
  await a.fill('#value', 'hunter2');
  await a.click('button:has-text("Store")');
  const signedIn = await a.context().storageState();

  // A second browser stops at the second step.
  const b = watch(await (await browser.newContext()).newPage(), 'B', problems);
  await b.goto(origin + '/login');
  await b.fill('#identifier', 'look-user');
  await b.fill('#password', password);
  await Promise.all([b.waitForURL('**/login/second-step'), b.click('button[type=submit]')]);
  const pending = await b.context().storageState();

  // The pages mailed links open: the address confirmation sent at registration, and a
  // password reset asked for now (opening either spends nothing: only its form's POST does).
  const confirm = await mailedLink(join(work, 'data'), 'look@example.com', 'Confirm your email address');
  const asked = await a.request.post(origin + '/api/v1/password/reset', {
    headers: { origin, 'content-type': 'application/json' }, data: { email: 'look@example.com' } });
  expect(asked.status() === 202, 'a reset asked for: ' + asked.status());
  const reset = await mailedLink(join(work, 'data'), 'look@example.com', 'Reset your password');
  const path = (link) => new URL(link).pathname + new URL(link).search;

  const anonymous = { cookies: [], origins: [] };
  const authorize = '/oauth2/authorize?response_type=code&client_id=wiki&redirect_uri='
    + encodeURIComponent('http://127.0.0.1:9/callback') + '&scope=openid%20profile%20email&state=s&nonce=n'
    + '&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';
  await checkAll('/login', anonymous, { 'light desktop': 'login.png', 'dark phone': 'login-dark-phone.png' });
  await checkAll('/register', anonymous);
  await checkAll('/password/forgot', anonymous);
  await checkAll('/password/reset?token=' + 'A'.repeat(43), anonymous);
  await checkAll(path(reset.link), anonymous);
  await checkAll(path(confirm.link), anonymous);
  await checkAll('/oauth2/authorize?client_id=unknown', anonymous);
  await checkAll('/login/second-step', pending);
  await checkAll('/account', signedIn, { 'light desktop': 'account.png', 'dark phone': 'account-dark-phone.png' });
  await checkAll('/account/second-factors', signedIn, { 'light desktop': 'second-factors.png' });
  await checkAll('/account/tokens', signedIn);
  await checkAll('/account/secrets', signedIn);
  await checkAll('/account/verify-email', signedIn);
  await checkAll(authorize, signedIn, { 'light desktop': 'consent.png' });
  await checkAll('/oauth2/logout', signedIn);

  // The recovery code still signs the second browser in (the pages above spent nothing).
  await b.click('summary');
  await b.fill('#recovery_code', codes[0]);
  await Promise.all([b.waitForURL('**/account'), b.click('#use-recovery-code')]);

  expect(problems.length === 0, 'problems:\n' + problems.join('\n'));
  console.log(`look passed: ${pagesChecked.length} pages × ${variants.length} variants (light/dark, 360 px/1280 px), `
    + `axe-core: no serious or critical violation (others: ${JSON.stringify(tally)}); keyboard reaches every control: `
    + pagesChecked.join(', ') + '; hashed stylesheet and accent colour under the strict CSP; sessions named for people');
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
