import type { FastifyInstance } from 'fastify';

/** Every /v1 resource, one module each. */
export default async function v1(app: FastifyInstance): Promise<void> {
  void app;
}
