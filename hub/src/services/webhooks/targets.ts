import { type LookupAddress, lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../../errors.js';

/*
 * Where webhooks may be sent. A webhook URL is chosen by whoever holds an admin token, and the
 * hub makes the request from inside the network: without a check, a URL naming 127.0.0.1:5432,
 * 169.254.169.254 or a 10.x service is a way in. So only public unicast addresses are targets,
 * unless the operator allow-lists a host name or an address range (TILLSYNC_WEBHOOK_ALLOW_HOSTS).
 *
 * The check runs at registration (a clear 400) and again at every connection: the delivery's
 * socket resolves the name through `lookup` below, which refuses the connection unless every
 * address is allowed and hands the socket exactly the addresses it checked — there is no second
 * resolution for DNS to answer differently (no rebinding window). TLS and Host keep the name.
 */

/** A name resolved to all its addresses (dns.lookup with all: true; tests give their own). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) =>
    lookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

export interface TargetPolicy {
  /** Host names (lower case) trusted whatever they resolve to. */
  hosts: ReadonlySet<string>;
  ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

/** The allow-list: each entry a host name, an IP address or a CIDR range. Throws on a bad range. */
export function targetPolicy(entries: readonly string[]): TargetPolicy {
  const hosts = new Set<string>();
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const raw of entries) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[(.*)\]$/, '$1');
    if (entry === '') continue;
    if (entry.includes('/')) ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const addr = ipaddr.process(entry);
      ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else hosts.add(entry);
  }
  return { hosts, ranges };
}

/**
 * Why `address` may not be a webhook target (its ipaddr.js range: 'loopback', 'private',
 * 'linkLocal', 'carrierGradeNat', 'uniqueLocal', 'multicast', 'unspecified', …), or null when it
 * may. IPv4-mapped IPv6 is judged as the IPv4 address it carries; anything but global unicast is
 * refused, so 6to4, NAT64 and Teredo forms of a private address are refused too.
 */
export function refusedRange(address: string, policy: TargetPolicy): string | null {
  if (!ipaddr.isValid(address)) return 'invalid';
  const addr = ipaddr.process(address);
  if (policy.ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) return null;
  const range = addr.range();
  return range === 'unicast' ? null : range;
}

/** The host of a URL as a resolver takes it: IPv6 without brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export class WebhookTargetError extends AppError {
  constructor(
    code: 'webhook_target_refused' | 'webhook_target_unresolved',
    message: string,
    details: Record<string, unknown>,
  ) {
    super(400, code, message, { field: 'url', ...details });
  }
}

export class TargetGuard {
  constructor(
    private readonly policy: TargetPolicy,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Registration: throws WebhookTargetError unless every address the URL's host has is allowed. */
  async check(rawUrl: string): Promise<void> {
    const url = new URL(rawUrl);
    const host = hostOf(url);
    if (this.policy.hosts.has(host)) return;
    let addresses: string[];
    if (ipaddr.isValid(host)) addresses = [host];
    else {
      try {
        addresses = (await this.resolve(host)).map((a) => a.address);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
        throw new WebhookTargetError(
          'webhook_target_unresolved',
          `body.url: host ${host} does not resolve (${code})`,
          { host },
        );
      }
    }
    for (const address of addresses) {
      const range = refusedRange(address, this.policy);
      if (range !== null) throw refusal(host, address, range, 'body.url: ');
    }
  }

  /** For an IP-literal URL (the socket does no lookup for it): why it is refused, or null. */
  literalRefusal(url: URL): string | null {
    const host = hostOf(url);
    if (!ipaddr.isValid(host) || this.policy.hosts.has(host)) return null;
    const range = refusedRange(host, this.policy);
    return range === null ? null : refusal(host, host, range).message;
  }

  /**
   * The socket's `lookup`: resolve once, refuse unless every address is allowed, and connect to
   * the addresses just checked.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const host = hostname.toLowerCase();
    this.resolve(host).then(
      (all) => {
        const trusted = this.policy.hosts.has(host);
        const bad = trusted ? undefined : all.find((a) => refusedRange(a.address, this.policy) !== null);
        const wanted = all.filter((a) => !options.family || a.family === options.family);
        if (bad || wanted.length === 0) {
          const err: NodeJS.ErrnoException = bad
            ? refusal(host, bad.address, refusedRange(bad.address, this.policy)!)
            : Object.assign(new Error(`${host} has no IPv${options.family} address`), { code: 'ENOTFOUND' });
          callback(err, '', 0);
        } else if (options.all) callback(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

function refusal(host: string, address: string, range: string, prefix = ''): WebhookTargetError {
  const where = host === address ? address : `${host} resolves to ${address}`;
  return new WebhookTargetError(
    'webhook_target_refused',
    `${prefix}${where}, a ${range} address; webhook targets must be public unicast addresses ` +
      'unless allow-listed (TILLSYNC_WEBHOOK_ALLOW_HOSTS)',
    { host, address, range },
  );
}

/** Whether an allow-list entry parses (config checks this at start). */
export function validAllowEntry(entry: string): boolean {
  try {
    targetPolicy([entry]);
    return true;
  } catch {
    return false;
  }
}
