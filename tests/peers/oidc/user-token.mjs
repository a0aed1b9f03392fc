// Signs a person in at the test provider through the authorization code flow with
// PKCE (the login form of devInteractions, then consent), as a browser would, and
// prints the token response as JSON.
//   node user-token.mjs <issuer> <user> [resource]
import { createHash, randomBytes } from 'node:crypto';

const [issuer, user, resource = 'urn:podium:api'] = process.argv.slice(2);
const redirect = process.env.OIDC_REDIRECT || 'http://127.0.0.1:8080/login/oidc/callback';
const b64 = (buf) => buf.toString('base64url');
const verifier = b64(randomBytes(32));
const challenge = b64(createHash('sha256').update(verifier).digest());
const jar = new Map();

async function hop(url, form) {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form) : undefined,
  });
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return new URL(response.headers.get('location'), url).toString();
}

const auth = new URL(`${issuer}/auth`);
for (const [k, v] of Object.entries({
  client_id: 'podium-web', response_type: 'code', redirect_uri: redirect,
  scope: 'openid profile groups', state: 'st', nonce: 'n', resource,
  code_challenge: challenge, code_challenge_method: 'S256',
})) auth.searchParams.set(k, v);
let location = await hop(auth.toString());
location = await hop(location, { prompt: 'login', login: user, password: 'any' });
location = await hop(location);
location = await hop(location, { prompt: 'consent' });
location = await hop(location);
const code = new URL(location).searchParams.get('code');
if (!code) throw new Error(`no code in ${location}`);
const token = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from('podium-web:web-secret').toString('base64')}`,
  },
  body: new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: redirect, resource,
    code_verifier: verifier,
  }),
});
console.log(await token.text());
