// A real OpenID provider for the OAuth tests: the certified npm package `oidc-provider`,
// on an ephemeral loopback port. Prints one JSON line {"issuer": ...} on stdout when ready.
//
// - authorization code + PKCE, dynamic client registration (public clients allowed);
// - resource indicators (RFC 8707): any loopback http URL is a resource server; its access
//   tokens are JWTs (RFC 9068) with Switchboard's scopes, audience = the resource URL;
// - login and consent are approved automatically for the account "user-1" (tests only);
// - client credentials (pre-registered clients below), introspection and revocation.
// Claims: every token carries org_id; client-credentials tokens also customer_ref (extraTokenClaims).
// - the operator console's single sign-on: with OIDC_CONSOLE_REDIRECT_URIS set, a confidential
//   client "switchboard-console" (secret "switchboard-console-secret", client_secret_basic) is
//   registered for those redirect URIs; its sign-in shows a login form (any username, no password)
//   that the browser submits, as a person would. Scope profile gives preferred_username, name and
//   org_id; in the code flow they come from the userinfo endpoint, not the id_token.
//
// Env: OIDC_ORG (default "demo"), OIDC_CUSTOMER (default "C-1001"), OIDC_HOST (the issuer's host
// name, default 127.0.0.1; "localhost" makes the provider another site than a 127.0.0.1 client),
// OIDC_CONSOLE_REDIRECT_URIS (space-separated).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';

// installed by scripts/test-deps.sh into tests/.oidc (OIDC_PROVIDER_DIR overrides the folder)
const providerDir = process.env.OIDC_PROVIDER_DIR || new URL('../.oidc/', import.meta.url).pathname;
const { default: Provider } = await import(`${providerDir}/node_modules/oidc-provider/lib/index.js`);

const ORG = process.env.OIDC_ORG || 'demo';
const CUSTOMER = process.env.OIDC_CUSTOMER || 'C-1001';
const HOST = process.env.OIDC_HOST || '127.0.0.1';
const CONSOLE_REDIRECTS = (process.env.OIDC_CONSOLE_REDIRECT_URIS || '').split(' ').filter(Boolean);
const SCOPES = 'orders:read orders:refund kb:read memory:read memory:write host:chat host:read';

function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'ES256' };
}

function isLoopbackResource(indicator) {
  try {
    const url = new URL(indicator);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

const ccClient = (clientId, scope) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  ...(scope ? { scope } : {}),
});

const consoleClient = {
  client_id: 'switchboard-console',
  client_secret: 'switchboard-console-secret',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: CONSOLE_REDIRECTS,
};

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomUUID()] },
    scopes: ['openid', 'offline_access', ...SCOPES.split(' ')],
    clients: [
      ccClient('cc-client', 'orders:read orders:refund host:chat host:read'),
      ccClient('short-lived', 'orders:read'),
      ccClient('opaque-client', 'orders:read'),
      // the resource server's own credentials for introspection
      ccClient('switchboard-rs'),
      ...(CONSOLE_REDIRECTS.length ? [consoleClient] : []),
    ],
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      profile: ['preferred_username', 'name', 'org_id'],
      email: ['email'],
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256',
    },
    // A registered client may ask for any Switchboard scope later (step-up): the scope it sent at
    // registration (its first challenge) does not cap it. The validator runs for every client.
    extraClientMetadata: {
      properties: ['switchboard_policy'],
      validator: (ctx, key, value, metadata) => {
        if (metadata.grant_types?.includes('authorization_code')) delete metadata.scope;
      },
    },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, preferred_username: id, name: id, org_id: ORG, email: `${id}@example.test` }),
    }),
    // the signed-in user (an agent of the shop) acts for the whole org; a client-credentials
    // token (e.g. a customer's own app) is bound to one customer
    extraTokenClaims: async (ctx, token) => (token.accountId ? { org_id: ORG } : { org_id: ORG, customer_ref: CUSTOMER }),
    ttl: {
      AccessToken: (ctx, token, client) => (client?.clientId === 'short-lived' ? 1 : 600),
      ClientCredentials: (ctx, token, client) => (client?.clientId === 'short-lived' ? 1 : 600),
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      registrationManagement: { enabled: true }, // RFC 7592: a registered client can be deleted (revoked)
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // the default policy, plus: a deleted (revoked) client's tokens are inactive
        allowedPolicy: async (ctx, client, token) => {
          if (client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client.clientId) return false;
          return Boolean(await ctx.oidc.provider.Client.find(token.clientId));
        },
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => oneOf,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator, client) => {
          if (!isLoopbackResource(indicator)) throw new Error('not a test resource');
          // opaque (introspected) tokens for "opaque-client" and registered clients named "opaque-…"
          const opaque = client?.clientId === 'opaque-client' || client?.clientName?.startsWith('opaque');
          return {
            scope: SCOPES,
            audience: indicator,
            accessTokenTTL: client?.clientId === 'short-lived' ? 1 : 600,
            accessTokenFormat: opaque ? 'opaque' : 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
  });
  provider.proxy = false;

  // Auto-approve: log "user-1" in (the console's client: whoever the login form names), grant
  // whatever was asked for.
  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session, uid } = details;
    if (prompt.name === 'login' && params.client_id === consoleClient.client_id) {
      if (req.method === 'POST') {
        const login = (await formBody(req)).get('login') || '';
        await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
        return;
      }
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><title>Test provider sign-in</title><h1>Test provider</h1>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="login" id="provider-login" required></label>
<button type="submit" id="provider-sign-in">Sign in</button></form>`);
      return;
    }
    if (prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: 'user-1' } }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// a browser keeps idle connections open: close them, or the server would wait for them
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
