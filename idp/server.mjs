// The OpenID Connect provider of INCAR's tests and demo: one node process, one port, one issuer
// per eMSP at /realms/<realm> (the shape of Keycloak's issuers), on the certified oidc-provider.
//
//   node idp/server.mjs REALMS.json [--port N]     (or PORT=N; 0 or none: any free port)
//
// It prints "ready http://127.0.0.1:PORT" once listening and exits on SIGTERM or SIGINT. The
// realms file (idp/README.md) names each realm's clients, users (their passwords and claims, the
// driver's OCPI token uid among them), the API audience (a resource indicator), the signing
// algorithm and the access-token shape: RFC 9068 ("rfc9068") or Keycloak's ("keycloak").
// Logins are real: the login form checks the configured password; consent is granted for the
// realm's own clients (Keycloak's default for first-party apps). Keys are made at start.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' } },
});
if (positionals.length !== 1) {
  console.error('usage: node server.mjs REALMS.json [--port N]');
  process.exit(2);
}
const config = JSON.parse(readFileSync(positionals[0], 'utf8'));
const port = Number(options.port ?? process.env.PORT ?? 0);

// Keycloak's endpoint paths, so that a client written against one finds the other's endpoints
// where it expects them (both are announced by discovery anyway).
const ROUTES = {
  authorization: '/protocol/openid-connect/auth',
  token: '/protocol/openid-connect/token',
  jwks: '/protocol/openid-connect/certs',
  userinfo: '/protocol/openid-connect/userinfo',
  end_session: '/protocol/openid-connect/logout',
  introspection: '/protocol/openid-connect/token/introspect',
  revocation: '/protocol/openid-connect/revoke',
};
const SHAPES = new Set(['rfc9068', 'keycloak']);
const ALGORITHMS = new Set(['RS256', 'ES256']);

// JWKS requests per realm, served at /_stats: tests count how often a verifier fetches keys.
const jwksRequests = {};

function fail(message) {
  console.error(`idp: ${message}`);
  process.exit(2);
}

// A fresh key per start: nothing to keep secret on disk, and a restart is a key rotation. The
// provider names each key by its JWK thumbprint (kid).
function signingKeys(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return [{ ...privateKey.export({ format: 'jwk' }), alg, use: 'sig' }];
}

function realmSettings(realm) {
  const shape = realm.token_shape ?? 'rfc9068';
  const alg = realm.alg ?? 'RS256';
  if (!/^[A-Za-z0-9_-]+$/.test(realm.name ?? '')) fail(`realm name ${realm.name} is not a path segment`);
  if (!SHAPES.has(shape)) fail(`realm ${realm.name}: token_shape must be rfc9068 or keycloak`);
  if (!ALGORITHMS.has(alg)) fail(`realm ${realm.name}: alg must be RS256 or ES256`);
  if (!realm.audience) fail(`realm ${realm.name}: audience is required`);
  return {
    ...realm,
    shape,
    alg,
    scope: realm.scope ?? 'charging',
    tokenUidClaim: realm.token_uid_claim ?? 'ocpi_token_uid',
    accessTokenTtl: realm.access_token_ttl ?? 300,
    // Further resource servers the realm issues tokens for: a token for one of them is a real
    // token with the wrong audience for INCAR.
    resources: [realm.audience, ...(realm.other_audiences ?? [])],
    users: new Map((realm.users ?? []).map((user) => [user.username, user])),
  };
}

function clientMetadata(client) {
  const confidential = Boolean(client.client_secret);
  return {
    client_id: client.client_id,
    ...(confidential ? { client_secret: client.client_secret } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

// Keycloak's access token: a JWT (header typ "JWT") whose payload says typ "Bearer", names the
// client in azp and the user in preferred_username, and lists its audiences in aud.
function keycloakShape(realm, token, structured) {
  const { header, payload } = structured;
  structured.header = { ...header, typ: 'JWT' };
  const user = realm.users.get(token.accountId);
  // Keycloak's default "account" audience beside the one an audience mapper adds.
  const aud = [...new Set([payload.aud, 'account'].flat())];
  structured.payload = {
    ...payload,
    typ: 'Bearer',
    azp: payload.client_id,
    aud,
    preferred_username: user?.username,
    sid: token.sessionUid,
    client_id: undefined,
  };
}

function configuration(realm) {
  return {
    clients: (realm.clients ?? []).map(clientMetadata),
    jwks: { keys: realm.keys },
    routes: ROUTES,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'profile', 'email', 'offline_access', ...realm.scope.split(' ')],
    claims: {
      // Keycloak marks its ID tokens typ "ID": the claim is asked for with the openid scope.
      openid: realm.shape === 'keycloak' ? ['sub', 'typ'] : ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    clientDefaults: { id_token_signed_response_alg: realm.alg },
    enabledJWA: { idTokenSigningAlgValues: [realm.alg] },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => realm.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (!realm.resources.includes(indicator)) throw new errors.InvalidTarget();
          return {
            scope: realm.scope,
            audience: indicator,
            accessTokenFormat: 'jwt',
            accessTokenTTL: realm.accessTokenTtl,
            jwt: { sign: { alg: realm.alg } },
          };
        },
      },
    },
    ttl: {
      AccessToken: () => realm.accessTokenTtl,
      IdToken: () => realm.accessTokenTtl,
      AuthorizationCode: () => 60,
      Interaction: () => 600,
      Session: () => 3600,
      Grant: () => 3600,
      RefreshToken: () => 3600,
    },
    findAccount: (_ctx, id) => {
      const user = realm.users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          preferred_username: id,
          ...(realm.shape === 'keycloak' ? { typ: 'ID' } : {}),
          ...user.claims,
        }),
      };
    },
    // The driver's OCPI token uid travels in the access token (what the platform reads).
    extraTokenClaims: (_ctx, token) => {
      const user = realm.users.get(token.accountId);
      const uid = user?.claims?.[realm.tokenUidClaim];
      return uid === undefined ? undefined : { [realm.tokenUidClaim]: uid };
    },
    formats: {
      customizers: {
        jwt: realm.shape === 'keycloak' ? (_ctx, token, structured) => keycloakShape(realm, token, structured) : undefined,
      },
    },
    interactions: { url: (_ctx, interaction) => `/realms/${realm.name}/interaction/${interaction.uid}` },
    renderError: (ctx, out) => {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
    },
  };
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(res, uid, realmName, message) {
  res.statusCode = message ? 401 : 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Sign in to ${escape(realmName)}</title>
${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/realms/${escape(realmName)}/interaction/${escape(uid)}/login">
<input name="username" autocomplete="username"> <input name="password" type="password" autocomplete="current-password">
<button>Sign in</button></form>\n`);
}

async function formBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The consent every client of the realm gets: what it asked for, no more.
async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { consent: details.grantId ? {} : { grantId } };
}

async function interaction(realm, provider, req, res, rest) {
  const [uid, action] = rest;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  if (req.method === 'GET' && details.prompt.name === 'login') {
    return loginForm(res, uid, realm.name);
  }
  if (req.method === 'GET' && details.prompt.name === 'consent') {
    return provider.interactionFinished(req, res, await grantConsent(provider, details), { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
    const form = await formBody(req);
    const user = realm.users.get(form.get('username') ?? '');
    if (!user || user.password !== form.get('password')) {
      return loginForm(res, uid, realm.name, 'Invalid username or password.');
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
  }
  res.statusCode = 400;
  res.end('unexpected interaction step\n');
}

async function main() {
  const realms = new Map();
  for (const raw of config.realms ?? []) {
    const realm = realmSettings(raw);
    if (realms.has(realm.name)) fail(`realm ${realm.name} is configured twice`);
    realms.set(realm.name, { ...realm, keys: signingKeys(realm.alg) });
    jwksRequests[realm.name] = 0;
  }
  if (realms.size === 0) fail('the realms file names no realm');

  const mounted = new Map();
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname === '/_stats') {
        res.setHeader('Content-Type', 'application/json');
        return res.end(JSON.stringify({ jwks_requests: jwksRequests }));
      }
      const match = /^\/realms\/([^/]+)(\/.*)?$/.exec(url.pathname);
      const entry = match && mounted.get(match[1]);
      if (!entry) {
        res.statusCode = 404;
        return res.end('no such realm\n');
      }
      const { realm, provider, callback } = entry;
      const rest = match[2] ?? '/';
      if (rest === ROUTES.jwks) jwksRequests[realm.name] += 1;
      const interactionPath = /^\/interaction\/([^/]+)(?:\/([^/]+))?$/.exec(rest);
      if (interactionPath) return await interaction(realm, provider, req, res, interactionPath.slice(1));
      // Mounted as express mounts it: the provider reads its mount path from originalUrl.
      req.originalUrl = req.url;
      req.url = req.url.slice(`/realms/${realm.name}`.length) || '/';
      return callback(req, res);
    } catch (error) {
      if (!res.headersSent) {
        res.statusCode = error.statusCode ?? 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      }
      res.end(`${error.name}: ${error.message}\n`);
    }
  });
  server.listen(port, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${server.address().port}`;
    for (const realm of realms.values()) {
      const provider = new Provider(`${base}/realms/${realm.name}`, configuration(realm));
      mounted.set(realm.name, { realm, provider, callback: provider.callback() });
    }
    console.log(`ready ${base}`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => fail(error.stack ?? String(error)));
