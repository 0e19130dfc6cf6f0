// The storage side of one sign-in flow for the SDK's provider: client, tokens and discovery, bound to the flow.

import type { UpstreamOptions } from "../config/options.ts";
import { ProxyError } from "../lib/errors.ts";
import type { ClientRegistry } from "./client-registry.ts";
import type { DiscoveryCache } from "./discovery-cache.ts";
import type { FlowHost, PendingFlow } from "./flow-provider.ts";
import { accountOf } from "./token-claims.ts";
import type { TokenKeeper } from "./token-keeper.ts";

export interface FlowHostParts {
  serverUrl: string;
  upstream: Pick<UpstreamOptions, "clientMetadataUrl" | "sendResource" | "authorizeParams">;
  clients: ClientRegistry;
  keeper: TokenKeeper;
  discovery: DiscoveryCache;
  /** The PKCE check of the authorization code grant (pkce-support.ts). */
  checkPkce: FlowHost["checkPkce"];
}

/** The storage side of one flow, for the SDK's provider: client, tokens and discovery, bound to the flow. */
export function createFlowHost(parts: FlowHostParts, flow: PendingFlow): FlowHost {
  const { serverUrl, upstream, clients, keeper, discovery } = parts;
  let loadedClientId: string | undefined;
  return {
    serverUrl,
    clientMetadata: clients.metadata(flow.redirectUri, flow.grant),
    clientMetadataUrl: upstream.clientMetadataUrl,
    sendResource: upstream.sendResource,
    authorizeParams: upstream.authorizeParams,
    loadClientInfo: async (issuer) => {
      const info = await clients.load(issuer, flow.redirectUri, flow.scope, flow.grant, (recorded) =>
        issuer === undefined
          ? false
          : discovery.issuers.sameServer(flow.discovery?.authorizationServerUrl?.toString(), recorded, issuer),
      );
      loadedClientId ??= info?.client_id;
      return info;
    },
    saveClientInfo: (info, source) => {
      // The SDK saves a client it loaded too: only a new client id is a registration made now.
      if (info.client_id !== loadedClientId) flow.registeredNow = true;
      return clients.save(info, source, flow.redirectUri);
    },
    saveTokens: async (tokens, requestedScope) => {
      const issuer = tokens.issuer ?? flow.discovery?.authorizationServerMetadata?.issuer ?? "";
      if (keeper.bearer === "id" && !tokens.id_token) {
        // Stored, these tokens would look signed in and send nothing: the next request would sign in again, forever.
        throw new ProxyError(
          "AS_ERROR",
          `The authorization server ${issuer || `of ${serverUrl}`} returned no ID token, which --use-id-token sends as the bearer.`,
          {
            hint: "Use it with an OpenID Connect server (one that returns an id_token for the openid scope), or leave out --use-id-token.",
          },
        );
      }
      await keeper.persist(tokens, issuer, requestedScope, accountOf(tokens.id_token, tokens.access_token));
    },
    saveDiscovery: (state) => discovery.save(state),
    issuers: discovery.issuers,
    // PKCE belongs to the authorization code grant; a device sign-in has none to check.
    checkPkce: flow.grant === "device" ? () => {} : parts.checkPkce,
    invalidate: async (scope) => {
      if (scope === "client" || scope === "all") {
        // The SDK drops the client when an endpoint answered invalid_client or unauthorized_client.
        flow.clientRefused = true;
        await clients.forget();
      }
      if (scope === "tokens" || scope === "all") await keeper.forget();
      if (scope === "discovery" || scope === "all") await discovery.forget();
    },
  };
}
