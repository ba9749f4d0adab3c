/**
 * The Host header check of the admin API (issue 16, item 3): DNS rebinding protection. A web page
 * on evil.example can make a browser on the admin's machine send requests to 127.0.0.1:7070 by
 * re-pointing evil.example there; the browser then still says `Host: evil.example`. So a request
 * is answered only when its Host names this server:
 * - the host of the listen address (as configured, e.g. `pai-admin.internal` or `10.0.0.5`);
 * - any IP literal: a Host that is an address cannot come from rebinding (the page's origin would
 *   be that address, whose content the attacker does not serve), and behind a Service or a
 *   port-forward clients use addresses the server cannot know (cluster IP, pod IP);
 * - `localhost` when listening on a loopback or wildcard address;
 * - the names in PAI_ADMIN_ALLOWED_HOSTS (e.g. the Service's DNS names).
 * Anything else is 421 `misdirected_request`; a malformed Host is 400. A unix socket is not
 * reachable from a browser and is not checked.
 */
import net from 'node:net';
import { type ListenAddress, isLoopbackAddress } from '../config.js';
import { PaiError } from '../errors.js';
import { quoteName } from '../resources/names.js';

/** Throws PaiError `bad_request` or `misdirected_request` unless the Host header names this server. */
export type HostCheck = (host: string | undefined) => void;

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** The host part of a Host header, lower-cased, port and trailing dot removed; undefined when malformed. */
export function hostOf(header: string): string | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]@\s/]+))(?::\d{1,5})?$/.exec(header);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || host === '') return undefined;
  return host.toLowerCase().replace(/\.$/, '');
}

/** The check for `listen` with the extra `allowed` names; undefined for a unix socket (nothing to check). */
export function hostCheck(listen: ListenAddress, allowed: readonly string[]): HostCheck | undefined {
  if (listen.kind === 'unix') return undefined;
  const listenHost = listen.host.toLowerCase();
  const names = new Set<string>([listenHost, ...allowed]);
  if (isLoopbackAddress(listenHost) || WILDCARDS.has(listenHost)) names.add('localhost');
  return (header) => {
    const host = header === undefined ? undefined : hostOf(header);
    if (host === undefined) throw new PaiError('bad_request', 'missing or malformed Host header');
    if (names.has(host) || net.isIP(host) !== 0) return;
    throw new PaiError(
      'misdirected_request',
      `this admin API does not answer to the host name ${quoteName(host)} (DNS rebinding protection); ` +
        'if it is a name of this server, add it to PAI_ADMIN_ALLOWED_HOSTS',
    );
  };
}
