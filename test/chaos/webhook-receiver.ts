import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/*
 * A brand's webhook receiver for chaos runs: it verifies each delivery with the Standard Webhooks
 * library (as a brand's receiver would) and records the event ids (webhook-id) it accepted. `outage` makes it answer 503 (the service is up, its app is not) or drop
 * the connection unanswered (the host is gone), so the hub's deliveries fail and must be retried.
 */
export type ReceiverMode = 'up' | 'unavailable' | 'drop';

export class WebhookReceiver {
  private server: Server | null = null;
  mode: ReceiverMode = 'up';
  /** Event ids (webhook-id, deduplicated) accepted (2xx answered) with a valid signature. */
  readonly received = new Set<string>();
  /** Deliveries whose signature did not verify (must stay 0). */
  badSignatures = 0;
  /** Deliveries refused by an outage. */
  refused = 0;
  secret = '';

  get url(): string {
    const port = (this.server?.address() as AddressInfo | null)?.port;
    return `http://127.0.0.1:${port}/hooks`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.mode === 'drop') {
      this.refused++;
      req.socket.destroy();
      return;
    }
    if (this.mode === 'unavailable') {
      this.refused++;
      res.writeHead(503).end();
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['webhook-id'] ?? '');
    try {
      // Deliveries retried after an outage carry the time of their own attempt: within tolerance.
      const event = new Webhook(this.secret).verify(body, {
        'webhook-id': id,
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      }) as { id: string };
      if (event.id !== id) throw new Error('webhook-id is not the event id');
    } catch {
      this.badSignatures++;
      res.writeHead(400).end();
      return;
    }
    this.received.add(id);
    res.writeHead(204).end();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
