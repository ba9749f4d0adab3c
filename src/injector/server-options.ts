/**
 * The injector's grpc-js server options, in a module of their own so that the benchmark's no-op
 * floor (bench/floor-server.mjs) runs the same transport without loading the injector.
 *
 * - Messages up to 16 MiB: ext_proc carries request bodies that a Provider's policy reads.
 * - No channelz: grpc-js keeps channelz statistics per server, socket and call unless told not to
 *   (a Date and several counters per call), for a channelz service the injector never serves.
 */
import type { ServerOptions } from '@grpc/grpc-js';

const MAX_MESSAGE = 16 * 1024 * 1024;

export const INJECTOR_SERVER_OPTIONS: ServerOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE,
  'grpc.max_send_message_length': MAX_MESSAGE,
  'grpc.enable_channelz': 0,
};
