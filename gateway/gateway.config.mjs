// Hive Gateway's configuration for INCAR (hive-gateway supergraph PATH -c gateway.config.mjs).
// The limits' values live in limits.json, shared with the Strawberry subgraphs; what each one
// means and why it has its value is in docs/gateway.md.
import { readFileSync } from 'node:fs';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { defineConfig } from '@graphql-hive/gateway';
import httpTransport from '@graphql-mesh/transport-http';
import wsTransport from '@graphql-mesh/transport-ws';
import { useListCostLimit } from './cost.mjs';
import { useSharedSubscriptions } from './shared.mjs';

const limits = JSON.parse(readFileSync(new URL('./limits.json', import.meta.url), 'utf8'));

// The client's token, whichever way it came: a WebSocket client puts it in its connection_init
// payload (a browser's WebSocket cannot send headers), an HTTP client in the header.
function clientAuthorization(context) {
  const params = context?.connectionParams;
  if (params && typeof params === 'object') {
    for (const [key, value] of Object.entries(params)) {
      if (key.toLowerCase() === 'authorization' && typeof value === 'string' && value) {
        return value;
      }
    }
  }
  return context?.request?.headers?.get('authorization') || undefined;
}

// Puts the token on the context once, where the WebSocket transport's interpolated
// connectionParams can read it (they see the context, not the request).
function useClientAuthorization() {
  return {
    onContextBuilding({ context, extendContext }) {
      extendContext({ incarAuthorization: clientAuthorization(context) });
    },
  };
}

// GraphQL Armor's refusals carry no extensions.code; a client tells them apart by this code.
function coded(code) {
  return [
    (_context, error) => {
      error.extensions.code = code;
    },
  ];
}

export const gatewayConfig = defineConfig({
  graphqlEndpoint: '/graphql',
  healthCheckEndpoint: '/healthcheck',
  readinessCheckEndpoint: '/readiness',
  // The supergraph is a file composed offline and replaced only with a restart.
  pollingInterval: 0,
  // Hive Laboratory (the default GraphiQL) is bundled into the page; the legacy GraphiQL
  // (renderLegacyGraphiQL) would load its scripts from a CDN, so it stays off.
  graphiql: { title: 'INCAR', subscriptionsProtocol: 'WS' },
  landingPage: false,
  maskedErrors: true,
  blockFieldSuggestions: true,
  batching: limits.max_batch > 0 ? { limit: limits.max_batch } : false,
  plugins: () => [
    maxTokensPlugin({ n: limits.max_tokens, onReject: coded('MAX_TOKENS_EXCEEDED') }),
    maxDepthPlugin({ n: limits.max_depth, onReject: coded('MAX_DEPTH_EXCEEDED') }),
    maxAliasesPlugin({ n: limits.max_aliases, onReject: coded('MAX_ALIASES_EXCEEDED') }),
    useListCostLimit({
      listSize: limits.list_size,
      maxCost: limits.max_cost,
      sizes: limits.list_sizes,
    }),
    useClientAuthorization(),
    // Last, so that it shares whatever subscribe the plugins before it set up.
    useSharedSubscriptions({ scope: (context) => clientAuthorization(context) ?? '' }),
  ],
  propagateHeaders: {
    fromClientToSubgraphs({ context, request }) {
      const authorization = clientAuthorization({ ...context, request });
      return authorization ? { authorization } : {};
    },
  },
  // Loaded here, not on first use: Hive loads a transport lazily, and every subscription that
  // arrives while the WebSocket transport is still loading gets its own executor, so a burst
  // on a fresh gateway would open one connection to the subgraph per subscription.
  transports: { http: httpTransport, ws: wsTransport },
  // Subscriptions go to the subgraphs over graphql-transport-ws on their GraphQL path. Hive's
  // default (SSE over HTTP) passes on events framed with LF only: Strawberry frames them with
  // CRLF, and Hive then drops every event without an error. The WebSocket is shared by all
  // subscriptions with the same connectionParams, so each token gets its own.
  transportEntries: {
    '*.http': {
      options: {
        subscriptions: {
          kind: 'ws',
          options: { connectionParams: { Authorization: '{context.incarAuthorization}' } },
        },
      },
    },
  },
});
