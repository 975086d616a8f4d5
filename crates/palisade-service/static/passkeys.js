// Passkeys on palisade's pages: add one, use one as the second step, sign in with one.
// Buttons carry what to do in data attributes; this file holds no secret and no state.
'use strict';

const decode = (text) => {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(base64 + '='.repeat((4 - base64.length % 4) % 4)), (c) => c.charCodeAt(0));
};
const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function creationOptions({ options }) {
  const key = options.publicKey;
  key.challenge = decode(key.challenge);
  key.user.id = decode(key.user.id);
  for (const c of key.excludeCredentials || []) c.id = decode(c.id);
  return { publicKey: key };
}

function requestOptions({ options }) {
  const key = options.publicKey;
  key.challenge = decode(key.challenge);
  for (const c of key.allowCredentials || []) c.id = decode(c.id);
  return { publicKey: key };
}

const registration = (cred) => ({
  id: cred.id, rawId: encode(cred.rawId), type: cred.type,
  response: {
    attestationObject: encode(cred.response.attestationObject),
    clientDataJSON: encode(cred.response.clientDataJSON),
    transports: cred.response.getTransports ? cred.response.getTransports() : [],
  },
  extensions: cred.getClientExtensionResults(),
});

const assertion = (cred) => ({
  id: cred.id, rawId: encode(cred.rawId), type: cred.type,
  response: {
    authenticatorData: encode(cred.response.authenticatorData),
    clientDataJSON: encode(cred.response.clientDataJSON),
    signature: encode(cred.response.signature),
    userHandle: cred.response.userHandle ? encode(cred.response.userHandle) : null,
  },
  extensions: cred.getClientExtensionResults(),
});

async function post(path, body) {
  const init = { method: 'POST', credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || answer.title || `HTTP ${response.status}`);
  return answer;
}

function status(text) {
  const line = document.getElementById('passkey-status');
  if (line) line.textContent = text;
}

// A field's value, or nothing when it is empty or absent.
function field(id) {
  const input = document.getElementById(id);
  return input && input.value !== '' ? input.value : undefined;
}

// A passkey's answer to a challenge bound to this session, to prove a change.
async function passkeyProof() {
  const options = await post('/api/v1/mfa/passkeys/challenge');
  return assertion(await navigator.credentials.get(requestOptions(options)));
}

async function addPasskey(button) {
  const code = field('passkey-code');
  let proof = {};
  if (code) proof = /^\d{6}$/.test(code.trim()) ? { code } : { recovery_code: code };
  else if (button.dataset.proof === 'passkey') proof = { passkey: await passkeyProof() };
  const begun = await post('/api/v1/mfa/passkeys', {
    name: field('passkey-name'), password: field('passkey-password'), ...proof,
  });
  const cred = await navigator.credentials.create(creationOptions(begun));
  const done = await post('/api/v1/mfa/passkeys/finish', { credential: registration(cred) });
  if (done.recovery_codes) {
    const codes = document.getElementById('new-recovery-codes');
    codes.textContent = done.recovery_codes.join('\n');
    codes.parentElement.hidden = false;
  }
  status('Passkey added.');
  button.disabled = true;
}

async function secondStep(button) {
  const options = await post('/api/v1/login/second-step/challenge');
  const cred = await navigator.credentials.get(requestOptions(options));
  await post('/api/v1/login/second-step', { passkey: assertion(cred) });
  window.location.assign(button.dataset.next || '/account');
}

// A password reset whose account has a passkey: the new password, proved by it.
async function resetWithPasskey(button) {
  const token = button.dataset.token;
  const options = await post('/api/v1/password/reset/challenge', { token });
  const cred = await navigator.credentials.get(requestOptions(options));
  await post('/api/v1/password/reset/complete', {
    token, new_password: field('new_password') || '', passkey: assertion(cred),
  });
  window.location.assign('/login?reset=1');
}

async function signIn(button) {
  const options = await post('/api/v1/login/passkey/challenge');
  const cred = await navigator.credentials.get(requestOptions(options));
  await post('/api/v1/login/passkey', { credential: assertion(cred) });
  window.location.assign(button.dataset.next || '/account');
}

// Forms that change the factors: without a code typed, a passkey proves the change.
for (const form of document.querySelectorAll('form[data-passkey-proof]')) {
  form.addEventListener('submit', async (event) => {
    const code = form.querySelector('input[name=code]');
    const proof = form.querySelector('input[name=passkey]');
    if ((code && code.value !== '') || proof.value !== '') return;
    event.preventDefault();
    status('Confirm with your passkey…');
    try {
      proof.value = JSON.stringify(await passkeyProof());
      form.submit();
    } catch (error) {
      status(`That did not work: ${error.message}`);
    }
  });
}

const actions = {
  'add-passkey': addPasskey, 'second-step-passkey': secondStep, 'passkey-sign-in': signIn,
  'reset-passkey': resetWithPasskey,
};
for (const [id, action] of Object.entries(actions)) {
  const button = document.getElementById(id);
  if (!button) continue;
  button.hidden = !window.PublicKeyCredential;
  button.addEventListener('click', async (event) => {
    event.preventDefault();
    status('Waiting for your passkey…');
    try {
      await action(button);
    } catch (error) {
      status(`That did not work: ${error.message}`);
    }
  });
}
