import { v7 } from 'uuid';

/** A new operation id: UUIDv7, unique across all tills and the hub, time-ordered. */
export function newOpId(): string {
  return v7();
}
