import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from './asyncapi.js';
import { Ack, CLIENT_EVENT_NAMES, HUB_EVENT_NAMES, REQUEST_EVENTS } from './messages.js';

async function errorsOf(doc: unknown) {
  const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
  return diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
}

describe('the AsyncAPI document of the sync protocol', { timeout: 60_000 }, () => {
  it('is valid AsyncAPI 3.0 for @asyncapi/parser (0 errors)', async () => {
    expect(await errorsOf(asyncApiDocument())).toEqual([]);
  });

  it('is refused by the same check when broken (a dangling schema reference)', async () => {
    const doc = asyncApiDocument() as { components: { schemas: Record<string, unknown> } };
    delete doc.components.schemas.Ack;
    expect((await errorsOf(doc)).length).toBeGreaterThan(0);
  });

  it('names every event of the protocol, each with its payload schema and requests with their reply', async () => {
    const { document } = await new Parser().parse(JSON.stringify(asyncApiDocument()));
    const byName = new Map(
      document!
        .allMessages()
        .all()
        .map((m) => [m.name(), m]),
    );
    for (const event of [...CLIENT_EVENT_NAMES, ...HUB_EVENT_NAMES]) {
      expect(byName.get(event)?.hasPayload(), event).toBe(true);
    }
    for (const event of Object.keys(REQUEST_EVENTS)) {
      const op = document!.operations().get(event);
      expect(op?.action(), event).toBe('receive');
      expect(
        op
          ?.reply()
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([`${event} (acknowledgement)`]);
    }
    for (const event of HUB_EVENT_NAMES) {
      expect(
        document!
          .operations()
          .filterBySend()
          .some((op) => op.messages().all()[0]?.name() === event),
      ).toBe(true);
    }
  });

  it('generates the schemas from the zod ones (the error codes, the limits)', () => {
    const { components } = asyncApiDocument() as {
      components: {
        schemas: Record<string, { properties?: Record<string, { enum?: string[]; maxItems?: number }> }>;
      };
    };
    expect(components.schemas.ProtocolError?.properties?.code?.enum).toContain('ack_required');
    expect(components.schemas.PushBatch?.properties?.ops?.maxItems).toBe(500);
    expect(Object.keys(components.schemas.Ack?.properties ?? {})).toEqual(Object.keys(Ack.shape));
  });
});
