import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { closeTokenSockets } from '../../hq/feed.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page } from '../../schemas/common.js';
import {
  ApiToken,
  ApiTokenCreate,
  ApiTokenId,
  ApiTokenListQuery,
  ApiTokenSecret,
} from '../../schemas/tokens.js';
import {
  createApiToken,
  getApiToken,
  listApiTokens,
  revokeApiToken,
  rotateApiToken,
} from '../../services/tokens.js';

const Params = z.strictObject({ tokenId: ApiTokenId });
const tags = ['tokens'];
const ADMIN = ['admin'] as const;
const DAY_MS = 86_400_000;

const refusals =
  'A revoked, expired or rotated-away token is answered 401 by every hub instance from the moment ' +
  'the change commits (tokens are checked against the database on every request), and HQ ' +
  'dashboards signed in with it are disconnected within a second.';

/** REST API tokens, admin only: made, listed, rotated and revoked without stopping the hub. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/tokens',
    {
      preHandler: app.authorize(ADMIN),
      schema: {
        tags,
        operationId: 'createApiToken',
        summary: 'Create an API token; its secret is in this answer only',
        description:
          'role admin, hq or channel is brand-wide (no locationId); store_manager needs its locationId. ' +
          'expiresAt (an instant) or expiresInDays (whole days from now) makes it stop working by ' +
          'itself; neither: it works until revoked. 404 when the location does not exist.',
        body: ApiTokenCreate,
        response: { 201: ApiTokenSecret, ...errors('not_found') },
      },
    },
    async (request, reply) => {
      const { name, role, locationId, expiresAt, expiresInDays } = request.body;
      const created = await createApiToken(app.db, {
        name,
        role,
        locationId: locationId ?? null,
        expiresAt: expiresAt
          ? new Date(expiresAt)
          : expiresInDays
            ? new Date(Date.now() + expiresInDays * DAY_MS)
            : null,
        createdBy: principalOf(request).id,
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/tokens',
    {
      preHandler: app.authorize(ADMIN),
      schema: {
        tags,
        operationId: 'listApiTokens',
        summary: 'List API tokens, newest first (never a secret nor its hash; cursor pagination)',
        description: 'Device tokens are not listed here: see GET /v1/devices.',
        querystring: ApiTokenListQuery,
        response: { 200: page(ApiToken), ...errors() },
      },
    },
    async (request) => listApiTokens(app.db, request.query),
  );

  app.get(
    '/tokens/:tokenId',
    {
      preHandler: app.authorize(ADMIN),
      schema: {
        tags,
        operationId: 'getApiToken',
        summary: 'One API token (never its secret nor its hash)',
        description:
          'Admin only. Its status (active, expired, revoked), when it was last used and by whom it was made.',
        params: Params,
        response: { 200: ApiToken, ...errors('not_found') },
      },
    },
    async (request) => getApiToken(app.db, request.params.tokenId),
  );

  app.post(
    '/tokens/:tokenId/revoke',
    {
      preHandler: app.authorize(ADMIN),
      schema: {
        tags,
        operationId: 'revokeApiToken',
        summary: 'Revoke an API token for good (idempotent)',
        description: `${refusals} 409 last_admin_token when it is the last working admin token (the caller's own): create another admin token first.`,
        params: Params,
        response: { 200: ApiToken, ...errors('not_found', 'last_admin_token') },
      },
    },
    async (request) => {
      const token = await revokeApiToken(app.db, request.params.tokenId);
      closeTokenSockets(app.io, token.id);
      return token;
    },
  );

  app.post(
    '/tokens/:tokenId/rotate',
    {
      preHandler: app.authorize(ADMIN),
      schema: {
        tags,
        operationId: 'rotateApiToken',
        summary: 'Replace an API token’s secret; the old one stops working at once',
        description: `No grace period: rotate when the old secret may be known to someone else. For a changeover without a gap, create a second token, switch to it, then revoke the first. Name, role, scope and expiry stay. ${refusals} 409 token_inactive when the token is revoked or expired.`,
        params: Params,
        response: { 200: ApiTokenSecret, ...errors('not_found', 'token_inactive') },
      },
    },
    async (request) => {
      const token = await rotateApiToken(app.db, request.params.tokenId);
      closeTokenSockets(app.io, token.id);
      return token;
    },
  );
};

export default routes;
