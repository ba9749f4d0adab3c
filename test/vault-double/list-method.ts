/**
 * Vault's LIST method for the test double. Node's HTTP parser (llhttp) refuses methods it does
 * not know, LIST among them, before any handler runs. So the double listens on a small TCP front
 * that forwards each connection to the real HTTP server and rewrites a request line
 * `LIST /v1/… HTTP/1.1` into `GET …` plus the header `x-vault-double-method: LIST`, which the
 * router reads back. Requests are delimited by Content-Length; a chunked request switches the
 * connection to plain forwarding (clients do not send LIST with a chunked body).
 */
import net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export const METHOD_HEADER = 'x-vault-double-method';
const MAX_HEAD = 64 * 1024;

class ListRewriter extends Transform {
  private buf = Buffer.alloc(0);
  private bodyLeft = 0;
  private passthrough = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.passthrough) return callback(null, chunk);
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    for (;;) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, this.buf.length);
        out.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.bodyLeft -= n;
        if (this.bodyLeft > 0) break;
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.buf.length > MAX_HEAD) this.stopRewriting(out);
        break;
      }
      let head = this.buf.subarray(0, end + 4).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      if (head.startsWith('LIST ')) head = `GET ${head.slice('LIST '.length).replace('\r\n', `\r\n${METHOD_HEADER}: LIST\r\n`)}`;
      out.push(Buffer.from(head, 'latin1'));
      if (/\r\ntransfer-encoding:/i.test(head)) {
        this.stopRewriting(out);
        break;
      }
      this.bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    }
    callback(null, Buffer.concat(out));
  }

  private stopRewriting(out: Buffer[]): void {
    this.passthrough = true;
    out.push(this.buf);
    this.buf = Buffer.alloc(0);
  }
}

/** A TCP front on 127.0.0.1, port 0, forwarding to `innerPort` with LIST rewritten. */
export async function listFront(innerPort: number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(innerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) s.on('error', end).on('close', end);
    client.pipe(new ListRewriter()).pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
