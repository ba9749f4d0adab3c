/**
 * envoy.service.secret.v3.SecretDiscoveryService: serves each sidecar its agent's leaf certificate
 * (src/injector/sds-messages.ts names the resources), state-of-the-world xDS over gRPC.
 *
 * Protocol, per stream (xDS REST/gRPC protocol, "ACK and NACK semantics"):
 * - The first request names the agent in `node.metadata` (bootstrap-only: the agent cannot set it).
 *   A stream with no or an unknown agent ends with a gRPC error and gets no certificate; a later
 *   request naming another agent ends the stream (a stream never switches agent).
 * - Every response has a fresh nonce and version_info `<ca id>.<leaf serial>`. A request carrying
 *   the latest nonce is an ACK (no error_detail) or a NACK (error_detail set); one carrying an older
 *   nonce answers a superseded response and is ignored.
 * - NACK: Envoy keeps the certificate it had; the server sends nothing new for it and logs the
 *   error's code and (scrubbed) message. The next renewal or change is pushed as usual.
 * - A new leaf (renewal, binding or CA change: src/injector/sds-leaves.ts) is pushed at once.
 * - DeltaSecrets answers UNIMPLEMENTED: the sidecar uses `api_type: GRPC`.
 * The leaf's key leaves the process only inside these answers, on the injector's protected socket.
 * Messages are read and written by sds-codec.ts: serving SDS loads neither protobufjs nor a .proto.
 */
import * as grpc from '@grpc/grpc-js';
import { PaiError, toPaiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DiscoveryRequest__Output } from '../generated/envoy/service/discovery/v3/DiscoveryRequest.js';
import type { IssuedLeaf } from '../tls/leaf.js';
import { type AgentId, agentKey } from '../tls/types.js';
import type { LeafBook, LeafWatch } from './sds-leaves.js';
import type { PeerCall, PeerIdentity } from './peer-identity.js';
import {
  agentOfRequest,
  grpcError,
  leafResponse,
  leafVersion,
  namedOfNode,
  requestedNames,
  scrubNackMessage,
} from './sds-messages.js';
import { DISCOVERY_CODEC, REFUSED_CODEC, type ServedDiscoveryResponse } from './sds-codec.js';
import { METHOD_SHAPES, servedService } from './service-shapes.js';

export const SDS_SERVICE = METHOD_SHAPES.sds.service;

type SdsStreamCall = grpc.ServerDuplexStream<DiscoveryRequest__Output, ServedDiscoveryResponse>;

/** One StreamSecrets call: its agent, the names it asked for, the last nonce sent. */
class SdsStream {
  private agent: AgentId | undefined;
  private names: readonly string[] = [];
  private leaf: IssuedLeaf | undefined;
  private watch: LeafWatch | undefined;
  private sent = 0;
  private lastNonce: string | undefined;
  private closed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly call: SdsStreamCall,
    private readonly book: LeafBook,
    private readonly logger: Logger,
    /** Shared mode: the agent is the mTLS client certificate's SPIFFE ID, whatever the node says. */
    private readonly peer: PeerIdentity | undefined,
  ) {
    call.on('data', (req: DiscoveryRequest__Output) => {
      // One request at a time: the first one's certificate must be out before an ACK is read.
      this.queue = this.queue.then(() => this.onRequest(req)).catch((err: unknown) => this.fail(toPaiError(err)));
    });
    call.on('end', () => {
      // The client half-closed: end our side too, unless a failure already ended it with a status.
      const open = !this.closed;
      this.close();
      if (open) call.end();
    });
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
  }

  private async onRequest(req: DiscoveryRequest__Output): Promise<void> {
    if (this.closed) return;
    const agent = this.identify(req);
    const nonce = req.response_nonce ?? '';
    if (nonce !== '' && nonce !== this.lastNonce) return; // answers a superseded response
    if (req.error_detail) {
      this.logger.warn(
        {
          agent: agentKey(agent),
          version: req.version_info ?? '',
          nonce,
          code: req.error_detail.code ?? 0,
          message: scrubNackMessage(req.error_detail.message),
        },
        'sds: Envoy rejected the certificate (NACK); it keeps the previous one',
      );
      return;
    }
    const names = requestedNames(req);
    if (nonce !== '' && sameNames(names, this.names)) {
      this.logger.debug({ agent: agentKey(agent), version: req.version_info ?? '', nonce }, 'sds: ACK');
      return;
    }
    this.names = names;
    if (this.watch === undefined) {
      const watch = await this.book.watch(agent, { onLeaf: (leaf) => this.push(leaf), onEnd: (error) => this.fail(error) });
      if (this.closed) return watch.stop();
      this.watch = watch;
      this.leaf ??= watch.leaf;
    }
    this.send();
  }

  /** The stream's agent, fixed by its first request. */
  private identify(req: DiscoveryRequest__Output): AgentId {
    if (this.peer) {
      // Every request is checked: the certificate is the stream's, a later node must not contradict it.
      this.agent = peerAgentOf(this.peer, this.call, req);
      return this.agent;
    }
    const named = agentOfRequest(req);
    if (this.agent === undefined) {
      if (named === undefined) {
        throw new PaiError('no_identity', 'the first request of an SDS stream carries no node: the agent cannot be named');
      }
      this.agent = named;
    } else if (named !== undefined && agentKey(named) !== agentKey(this.agent)) {
      throw new PaiError('bad_request', 'an SDS stream never switches agent: open a new stream');
    }
    return this.agent;
  }

  private push(leaf: IssuedLeaf): void {
    this.leaf = leaf;
    if (!this.closed && this.names.length > 0) this.send();
  }

  private send(): void {
    const leaf = this.leaf;
    if (leaf === undefined || this.closed) return;
    const nonce = String(++this.sent);
    this.lastNonce = nonce;
    this.call.write(leafResponse(leaf, this.names, nonce));
    this.logger.debug({ agent: this.agent && agentKey(this.agent), version: leafVersion(leaf), nonce }, 'sds: sent');
  }

  private fail(error: PaiError): void {
    if (this.closed) return;
    this.close();
    this.logger.warn(
      { agent: this.agent && agentKey(this.agent), code: error.code, err: error.message },
      'sds: stream refused or ended',
    );
    this.call.emit('error', grpcError(error));
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch?.stop();
  }
}

/**
 * Shared mode's agent of an SDS request: the client certificate's, which the node metadata (when
 * the request carries a node) must not contradict. Throws the PaiError to end the call with.
 */
function peerAgentOf(peer: PeerIdentity, call: PeerCall, req: DiscoveryRequest__Output): AgentId {
  const named = req.node === undefined || req.node === null ? { agent: undefined, namespace: undefined } : namedOfNode(req);
  const agent = peer.agentOf(call, named);
  if (agent instanceof PaiError) throw agent;
  return agent;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

export interface SdsServiceOptions {
  readonly book: LeafBook;
  readonly logger: Logger;
}

/**
 * The SDS service, registered on the injector's server (its unix socket / mTLS listener) like the
 * other registrars: `new SdsService({book, logger}).addToServer(server)`.
 */
export class SdsService {
  private peer: PeerIdentity | undefined;

  constructor(private readonly options: SdsServiceOptions) {}

  /**
   * Adds StreamSecrets, FetchSecrets and DeltaSecrets (UNIMPLEMENTED) to `server`; with `parts.peer`
   * (shared mode) the agent is the mTLS client certificate's.
   */
  addToServer(server: grpc.Server, parts?: { readonly peer: PeerIdentity | undefined }): void {
    this.peer = parts?.peer;
    const definition = servedService('sds', {
      StreamSecrets: DISCOVERY_CODEC,
      FetchSecrets: DISCOVERY_CODEC,
      DeltaSecrets: REFUSED_CODEC,
    });
    server.addService(definition, {
      StreamSecrets: (call: SdsStreamCall) => new SdsStream(call, this.options.book, this.options.logger, this.peer),
      FetchSecrets: this.fetch,
      DeltaSecrets: (call: grpc.ServerDuplexStream<object, never>) => {
        call.emit('error', {
          code: grpc.status.UNIMPLEMENTED,
          details: 'DeltaSecrets is not served: configure the SDS source with api_type GRPC (state of the world)',
        });
      },
    });
  }

  /** FetchSecrets: one answer with the agent's current leaf (the REST-style poll). */
  private readonly fetch = (
    call: grpc.ServerUnaryCall<DiscoveryRequest__Output, ServedDiscoveryResponse>,
    callback: grpc.sendUnaryData<ServedDiscoveryResponse>,
  ): void => {
    const req = call.request;
    const answer = async (): Promise<ServedDiscoveryResponse> => {
      const agent = this.peer ? peerAgentOf(this.peer, call, req) : agentOfRequest(req);
      if (agent === undefined) throw new PaiError('no_identity', 'FetchSecrets carries no node: the agent cannot be named');
      const names = requestedNames(req);
      return leafResponse(await this.options.book.current(agent), names, '');
    };
    answer().then(
      (res) => callback(null, res),
      (err: unknown) => {
        const error = toPaiError(err);
        this.options.logger.warn({ code: error.code, err: error.message }, 'sds: fetch refused');
        callback(grpcError(error));
      },
    );
  };
}
