// Browser test: register → log in → account page → end another session → log out; then an
// authenticator app: add it (QR code and key), confirm it with a code computed here, keep
// the recovery codes, and sign in with a recovery code and with a code; then a passkey in
// Chromium's virtual authenticator: add it, use it as the second step, sign in with it
// alone; then mail: the address confirmed and the password reset by following the links in
// the messages the service wrote — in headless Chromium, failing on any CSP violation or page
// error.
// Usage: node flow.mjs <path to palisade binary>   (PLAYWRIGHT_CORE may point at the module)
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServer, launch, watch as watchInto, expect, totp, stepNow, mailedLink as mailedLinkIn } from './common.mjs';

const binary = process.argv[2];
if (!binary) { console.error('usage: node flow.mjs <palisade binary>'); process.exit(2); }

const work = mkdtempSync(join(tmpdir(), 'palisade-browser-'));
const port = await freePort();
const { server, origin } = await startServer(binary, port, ['--data-dir', join(work, 'data')]);

const problems = [];
const browser = await launch();
const watch = (page, name) => watchInto(page, name, problems);

// The link in the newest message to `to` whose subject starts with `subject`.
const mailedLink = (to, subject, after = new Set()) => mailedLinkIn(join(work, 'data'), to, subject, after);
const mailFiles = () => { try { return new Set(readdirSync(join(work, 'data', 'outbox'))); } catch { return new Set(); } };

try {
  const a = watch(await (await browser.newContext()).newPage(), 'A');
  await a.goto(origin + '/register');
  await a.fill('#username', 'browser-user');
  await a.fill('#email', 'browser@example.com');
  await a.fill('#display_name', 'Browser <User>');
  await a.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([a.waitForURL('**/login?registered=1'), a.click('button[type=submit]')]);
  expect((await a.textContent('main')).includes('Your account is ready'), 'registration notice');

  async function logIn(page) {
    await page.goto(origin + '/login');
    await page.fill('#identifier', 'browser-user');
    await page.fill('#password', 'gravel orbit violet canteen');
    await Promise.all([page.waitForURL('**/account'), page.click('button[type=submit]')]);
  }
  await logIn(a);
  expect((await a.textContent('h1')).includes('Browser <User>'), 'display name shown as text');

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
  const ends = a.locator('button[name=end]');
  expect(await ends.count() === 1, 'one other session listed');
  await Promise.all([a.waitForURL('**/account?done=session'), ends.first().click()]);
  expect((await a.textContent('main')).includes('Session ended'), 'session ended notice');

  await b.goto(origin + '/account');
  expect(b.url().endsWith('/login'), 'the ended session is signed out: ' + b.url());

  await Promise.all([a.waitForURL('**/login'), a.click('#logout')]);
  await a.goto(origin + '/account');
  expect(a.url().endsWith('/login'), 'logged out');

  // An authenticator app, from the account page.
  const c = watch(await (await browser.newContext()).newPage(), 'C');
  await c.goto(origin + '/register');
  await c.fill('#username', 'two-factor-user');
  await c.fill('#email', 'two-factor@example.com');
  await c.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([c.waitForURL('**/login?registered=1'), c.click('button[type=submit]')]);
  const signIn = async () => {
    await c.goto(origin + '/login');
    await c.fill('#identifier', 'two-factor-user');
    await c.fill('#password', 'gravel orbit violet canteen');
    await c.click('button[type=submit]');
  };
  await signIn();
  await c.waitForURL('**/account');
  await c.click('#second-factors-link');
  await c.fill('#name', 'phone');
  await c.click('#add-app');
  expect(await c.locator('.qr svg').count() === 1, 'the QR code shows (inline SVG under the CSP)');
  const secret = (await c.textContent('#totp-secret')).trim();
  const confirmedAt = stepNow();
  await c.fill('#confirm_code', totp(secret, confirmedAt));
  await c.click('#confirm');
  const codes = (await c.textContent('#codes')).trim().split('\n');
  expect(codes.length === 10, 'ten recovery codes shown: ' + codes.length);
  expect((await c.textContent('main')).includes('authenticator app'), 'the app is listed');
  await Promise.all([c.waitForURL('**/login'), c.goto(origin + '/account').then(() => c.click('#logout'))]);

  // The password alone leads to the second step; a recovery code completes it.
  await signIn();
  await c.waitForURL('**/login/second-step');
  await c.goto(origin + '/account');
  expect(c.url().endsWith('/login'), 'the half-done login reaches no account page: ' + c.url());
  await c.goto(origin + '/login/second-step');
  await c.click('summary');
  await c.fill('#recovery_code', codes[0]);
  await Promise.all([c.waitForURL('**/account'), c.click('#use-recovery-code')]);
  await Promise.all([c.waitForURL('**/login'), c.click('#logout')]);

  // And a code from the app, in a later step than the one that confirmed it (used once).
  while (stepNow() <= confirmedAt) await new Promise((r) => setTimeout(r, 500));
  await signIn();
  await c.waitForURL('**/login/second-step');
  await c.fill('#code', totp(secret, stepNow()));
  await Promise.all([c.waitForURL('**/account'), c.click('#verify')]);
  const pending = (await c.context().cookies()).find((k) => k.name === '__Host-palisade-login');
  expect(!pending, 'the pending-login cookie is gone once signed in');

  await Promise.all([c.waitForURL('**/login'), c.click('#logout')]);

  // Mail: the address confirmed by the link registration sent; opening it confirms nothing
  // until the button is pressed.
  const e = watch(await (await browser.newContext()).newPage(), 'E');
  const confirm = await mailedLink('browser@example.com', 'Confirm your email address');
  await e.goto(confirm.link);
  await Promise.all([e.waitForNavigation(), e.click('#confirm-email')]);
  expect(await e.locator('#email-confirmed').count() === 1, 'address confirmed');
  // Forgot password: the form, the message, the link, a new password, signed in with it.
  let before = mailFiles();
  await e.goto(origin + '/login');
  await Promise.all([e.waitForURL('**/password/forgot'), e.click('#forgot-password')]);
  await e.fill('#email', 'browser@example.com');
  await Promise.all([e.waitForNavigation(), e.click('#send-link')]);
  expect(await e.locator('#reset-requested').count() === 1, 'the same answer for every address');
  const reset = await mailedLink('browser@example.com', 'Reset your password', before);
  await e.goto(reset.link);
  await e.fill('#new_password', 'lantern harbor quietly sixteen');
  await Promise.all([e.waitForURL('**/login?reset=1'), e.click('#set-password')]);
  await e.fill('#identifier', 'browser-user');
  await e.fill('#password', 'lantern harbor quietly sixteen');
  await Promise.all([e.waitForURL('**/account'), e.click('button[type=submit]')]);
  // Refusals below are answered 4xx, which Chromium logs as console errors: this page is
  // not watched for them (its CSP violations would still show in the others).
  const f = await (await browser.newContext()).newPage();
  await f.goto(reset.link);
  expect(await f.locator('#link-expired').count() === 1, 'the used link is spent');
  // With a second factor, the reset asks for it (here a recovery code) before the password.
  before = mailFiles();
  await f.goto(origin + '/password/forgot');
  await f.fill('#email', 'two-factor@example.com');
  await Promise.all([f.waitForNavigation(), f.click('#send-link')]);
  const guarded = await mailedLink('two-factor@example.com', 'Reset your password', before);
  await f.goto(guarded.link);
  await f.fill('#new_password', 'lantern harbor quietly sixteen');
  await Promise.all([f.waitForNavigation(), f.click('#set-password')]);
  expect(await f.locator('#code[aria-invalid="true"]').count() === 1, 'the second factor is asked for');
  await f.fill('#new_password', 'lantern harbor quietly sixteen');
  await f.fill('#recovery_code', codes[1]);
  await Promise.all([f.waitForURL('**/login?reset=1'), f.click('#set-password')]);

  // A passkey, in Chromium's virtual authenticator (user verification on, as a platform
  // passkey with a fingerprint reader would do).
  const d = watch(await (await browser.newContext()).newPage(), 'D');
  const cdp = await d.context().newCDPSession(d);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
    isUserVerified: true, automaticPresenceSimulation: true } });
  await d.goto(origin + '/register');
  await d.fill('#username', 'passkey-user');
  await d.fill('#email', 'passkey@example.com');
  await d.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([d.waitForURL('**/login?registered=1'), d.click('button[type=submit]')]);
  const loginPage = await d.goto(origin + '/login');
  const policy = loginPage.headers()['permissions-policy'];
  expect(policy.includes('publickey-credentials-get=(self)') && policy.includes('camera=()'),
    'the login page allows WebAuthn for itself only: ' + policy);
  await d.fill('#identifier', 'passkey-user');
  await d.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([d.waitForURL('**/account'), d.click('button[type=submit]')]);
  const accountPage = await d.reload();
  expect(accountPage.headers()['permissions-policy'].includes('publickey-credentials-get=()'),
    'other pages keep WebAuthn denied');
  await d.click('#second-factors-link');
  await d.fill('#passkey-name', 'this laptop');
  await d.click('#add-passkey');
  await d.waitForFunction(() => document.getElementById('passkey-status').textContent === 'Passkey added.');
  const passkeyCodes = (await d.textContent('#new-recovery-codes')).trim().split('\n');
  expect(passkeyCodes.length === 10, 'recovery codes with the first factor: ' + passkeyCodes.length);
  await d.goto(origin + '/account');
  await Promise.all([d.waitForURL('**/login'), d.click('#logout')]);
  // Password, then the passkey as the second step.
  await d.fill('#identifier', 'passkey-user');
  await d.fill('#password', 'gravel orbit violet canteen');
  await Promise.all([d.waitForURL('**/login/second-step'), d.click('button[type=submit]')]);
  await Promise.all([d.waitForURL('**/account'), d.click('#second-step-passkey')]);
  await Promise.all([d.waitForURL('**/login'), d.click('#logout')]);
  // The passkey alone.
  await Promise.all([d.waitForURL('**/account'), d.click('#passkey-sign-in')]);
  expect((await d.textContent('h1')).includes('passkey-user'), 'signed in with the passkey alone');
  // A password reset that the passkey proves, from the mailed link.
  const resetBefore = mailFiles();
  await d.goto(origin + '/password/forgot');
  await d.fill('#email', 'passkey@example.com');
  await Promise.all([d.waitForNavigation(), d.click('#send-link')]);
  const passkeyReset = await mailedLink('passkey@example.com', 'Reset your password', resetBefore);
  const resetPage = await d.goto(passkeyReset.link);
  expect(resetPage.headers()['permissions-policy'].includes('publickey-credentials-get=(self)'),
    'the reset page allows WebAuthn for itself');
  await d.fill('#new_password', 'lantern harbor quietly sixteen');
  await Promise.all([d.waitForURL('**/login?reset=1'), d.click('#reset-passkey')]);
  await Promise.all([d.waitForURL('**/account'), d.click('#passkey-sign-in')]);
  // Changes to the factors, proved by the passkey through the page's forms.
  await d.click('#second-factors-link');
  await Promise.all([d.waitForNavigation(), d.click('#new-codes')]);
  expect((await d.textContent('main')).includes('New recovery codes'), 'new codes, proved by the passkey');
  const renewed = (await d.textContent('#codes')).trim().split('\n');
  expect(renewed.length === 10 && !renewed.includes(passkeyCodes[0]), 'a new set of codes');
  await Promise.all([d.waitForNavigation(), d.click('form[action$="/remove"] button')]);
  expect((await d.textContent('main')).includes('No second factor yet'), 'the passkey removed: '
    + (await d.textContent('main')).slice(0, 200));

  expect(problems.length === 0, 'no CSP violation or page error:\n' + problems.join('\n'));
  console.log('browser flow passed: register, log in, account, end another session, log out; authenticator app added, '
    + 'signed in with a recovery code and with a code; a passkey added (virtual authenticator), used as the '
    + 'second step and alone, proving changes to the factors; address confirmed and password reset through '
    + 'mailed links (with the second factor asked for: a recovery code, a passkey); no CSP violations');
} catch (e) {
  console.error(e.message);
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
