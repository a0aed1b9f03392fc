// An OpenID Connect provider for Podium's sign-in tests: panva's oidc-provider on
// 127.0.0.1:$OIDC_PORT, with a fresh RS256 key per run. Access tokens are JWTs for
// two resource servers: urn:podium:api (audience "podium-api", the one Podium
// accepts) and urn:other:api (audience "other-api", which Podium must refuse).
//
// Clients:
//   podium-m2m / m2m-secret      client_credentials (a machine: a Podium application)
//   reports-m2m / reports-secret client_credentials (no Podium application has its name)
//   operate-m2m / operate-secret client_credentials, its secret in the form body
//                                (client_secret_post, as @camunda8/sdk sends it)
//   podium-web / web-secret      authorization code with PKCE, redirect
//                                http://127.0.0.1:<any port>/login/oidc/callback (a
//                                native client: loopback redirects may name any port,
//                                so each test's Podium on a free port can use it)
// People (devInteractions: any password is accepted at the login form):
//   alice (groups operate-admins), bob (operate-viewers), admin (no groups)
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const port = Number(process.env.OIDC_PORT || 9080);
const issuer = `http://127.0.0.1:${port}`;
const redirect = 'http://127.0.0.1:8080/login/oidc/callback';
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'podium-test-rs256', use: 'sig', alg: 'RS256' };

const people = {
  alice: { name: 'Alice Admin', preferred_username: 'alice', groups: ['operate-admins'] },
  bob: { name: 'Bob Viewer', preferred_username: 'bob', groups: ['operate-viewers'] },
  admin: { name: 'Not The Admin', preferred_username: 'admin', groups: [] },
};
const audiences = { 'urn:podium:api': 'podium-api', 'urn:other:api': 'other-api' };
const machine = (id, secret, auth = 'client_secret_basic') => ({
  client_id: id, client_secret: secret, grant_types: ['client_credentials'],
  response_types: [], redirect_uris: [], token_endpoint_auth_method: auth,
});

const provider = new Provider(issuer, {
  jwks: { keys: [signingKey] },
  clients: [
    machine('podium-m2m', 'm2m-secret'),
    machine('reports-m2m', 'reports-secret'),
    machine('operate-m2m', 'operate-secret', 'client_secret_post'),
    {
      client_id: 'podium-web', client_secret: 'web-secret', application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: [redirect], token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(people[id] ?? { preferred_username: id, groups: [] }) }),
  }),
  extraTokenClaims: async (_ctx, token) => (token.accountId
    ? { name: people[token.accountId]?.name, groups: people[token.accountId]?.groups ?? [] }
    : undefined),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:podium:api',
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const audience = audiences[indicator];
        if (!audience) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'api:read api:write', audience, accessTokenTTL: 300,
          accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: 300, ClientCredentials: 300, IdToken: 300, RefreshToken: 3600, Session: 3600,
    Grant: 3600, Interaction: 600, AuthorizationCode: 60,
  },
});
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));
