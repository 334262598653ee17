import type { FastifyInstance } from 'fastify';
import alerts from './alerts.js';
import conflicts from './conflicts.js';
import devices from './devices.js';
import events from './events.js';
import inventory from './inventory.js';
import locations from './locations.js';
import me from './me.js';
import movements from './movements.js';
import orders from './orders.js';
import products from './products.js';
import reservations from './reservations.js';
import sync from './sync.js';
import tokens from './tokens.js';
import transfers from './transfers.js';
import webhooks from './webhooks.js';

/** Every /v1 resource, one module each. */
export default async function v1(app: FastifyInstance): Promise<void> {
  await app.register(locations);
  await app.register(products);
  await app.register(inventory);
  await app.register(transfers);
  await app.register(movements);
  await app.register(devices);
  await app.register(sync);
  await app.register(alerts);
  await app.register(conflicts);
  await app.register(orders);
  await app.register(reservations);
  await app.register(webhooks);
  await app.register(events);
  await app.register(me);
  await app.register(tokens);
}
