import { describe, expect, it } from 'vitest';
import { planRecovery } from '../src/sync/restore-recovery.js';

describe('planRecovery: a till ahead of a restored hub', () => {
  it('does nothing when the hub holds at least what the till was acknowledged', () => {
    expect(planRecovery(7, { lastAckedSeq: 7, heldFrom: 1 })).toBeNull();
    expect(planRecovery(9, { lastAckedSeq: 7, heldFrom: 8 })).toBeNull();
  });

  it('asks for everything after the hub when the till still holds it', () => {
    expect(planRecovery(3, { lastAckedSeq: 7, heldFrom: 1 })).toEqual({
      hubSeq: 3,
      tillSeq: 7,
      resendFrom: 4,
      lost: null,
      rebaseTo: 3,
    });
  });

  it('reports the seqs the till no longer holds as lost and re-bases past them', () => {
    expect(planRecovery(2, { lastAckedSeq: 7, heldFrom: 6 })).toEqual({
      hubSeq: 2,
      tillSeq: 7,
      resendFrom: 6,
      lost: { from: 3, to: 5 },
      rebaseTo: 5,
    });
    // A till that holds none of them: all lost, re-based to its own acked seq.
    expect(planRecovery(2, { lastAckedSeq: 7, heldFrom: 8 })).toMatchObject({
      resendFrom: 8,
      lost: { from: 3, to: 7 },
      rebaseTo: 7,
    });
    // A claim past the acked seq is read as "holds none".
    expect(planRecovery(2, { lastAckedSeq: 7, heldFrom: 50 })).toMatchObject({ rebaseTo: 7 });
  });
});
