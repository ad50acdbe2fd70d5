/**
 * The ceiling: the least a STOMP server on Node and `ws` has to do for the benchmark's traffic.
 * It speaks just enough STOMP 1.2 for the load generator (one frame per WebSocket message, LF line
 * ends, no header escaping, no heart-beats, no acks, no limits):
 *
 * - CONNECT/STOMP → a constant CONNECTED;
 * - SUBSCRIBE → remembered in a map of destination → subscriptions, with the start of its MESSAGE
 *   frames (`MESSAGE\nsubscription:<id>\n`) built once; RECEIPT when asked;
 * - SEND → the rest of the MESSAGE frame (destination, message-id, the sender's other headers,
 *   content-length, body) built once, then for every subscriber one `Buffer.concat` of its
 *   prefix and that shared part and one `ws.send`.
 *
 * Anything a real server adds on top of this (validation, routing, back-pressure checks,
 * framework plumbing) is what the benchmark's ratios measure.
 *
 * With BENCH_CEILING_CORK=1 (`npm run bench -- --ceiling-cork`) it also corks every socket it
 * writes to until the end of the tick, as the library does, so that several frames for one
 * socket leave in one system call: the ceiling for a server that batches its writes.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { runServer } from './harness.js';

interface Subscription {
  readonly id: string;
  readonly destination: string;
  readonly prefix: Buffer;
  readonly ws: WebSocket;
}

interface Connection {
  readonly ws: WebSocket;
  readonly subscriptions: Map<string, Subscription>;
}

const TEXT = { binary: false } as const;
const PATH = '/ws';
const CONNECTED = Buffer.from('CONNECTED\nversion:1.2\nheart-beat:0,0\nserver:bench-ceiling\n\n\0');
/** Headers of a SEND that are not passed on to subscribers. */
const NOT_PASSED_ON = new Set(['destination', 'content-length', 'receipt', 'transaction']);

const topics = new Map<string, Set<Subscription>>();
let messageCount = 0;

const CORK = process.env.BENCH_CEILING_CORK === '1';
const corked: { uncork(): void }[] = [];
function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.length = 0;
}

function send(ws: WebSocket, data: Buffer): void {
  if (CORK) {
    const raw = (ws as unknown as { _socket?: Duplex })._socket;
    if (raw && raw.writableCorked === 0) {
      raw.cork();
      if (corked.push(raw) === 1) process.nextTick(uncorkAll);
    }
  }
  ws.send(data, TEXT);
}

function receipt(ws: WebSocket, id: string | undefined): void {
  if (id !== undefined) send(ws, Buffer.from(`RECEIPT\nreceipt-id:${id}\n\n\0`));
}

function onFrame(conn: Connection, data: Buffer): void {
  const headEnd = data.indexOf('\n\n');
  if (headEnd === -1) return;
  const lines = data.toString('utf8', 0, headEnd).split('\n');
  const command = lines[0];
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    const name = lines[i].slice(0, colon);
    if (!(name in headers)) headers[name] = lines[i].slice(colon + 1);
  }
  switch (command) {
    case 'SEND': {
      const destination = headers['destination'];
      const body = data.subarray(headEnd + 2, data.lastIndexOf(0));
      let head = `destination:${destination}\nmessage-id:m-${(++messageCount).toString(36)}\n`;
      for (const name in headers) if (!NOT_PASSED_ON.has(name)) head += `${name}:${headers[name]}\n`;
      head += `content-length:${body.length}\n\n`;
      const headLength = Buffer.byteLength(head);
      const shared = Buffer.allocUnsafe(headLength + body.length + 1);
      shared.write(head, 0, 'utf8');
      body.copy(shared, headLength);
      shared[shared.length - 1] = 0;
      const subscribers = topics.get(destination);
      if (subscribers) {
        for (const sub of subscribers) {
          send(sub.ws, Buffer.concat([sub.prefix, shared], sub.prefix.length + shared.length));
        }
      }
      receipt(conn.ws, headers['receipt']);
      return;
    }
    case 'SUBSCRIBE': {
      const id = headers['id'];
      const destination = headers['destination'];
      const sub: Subscription = {
        id,
        destination,
        prefix: Buffer.from(`MESSAGE\nsubscription:${id}\n`),
        ws: conn.ws,
      };
      conn.subscriptions.set(id, sub);
      let set = topics.get(destination);
      if (!set) topics.set(destination, (set = new Set()));
      set.add(sub);
      receipt(conn.ws, headers['receipt']);
      return;
    }
    case 'UNSUBSCRIBE': {
      const sub = conn.subscriptions.get(headers['id']);
      if (sub) drop(conn, sub);
      receipt(conn.ws, headers['receipt']);
      return;
    }
    case 'CONNECT':
    case 'STOMP':
      send(conn.ws, CONNECTED);
      return;
    case 'DISCONNECT':
      receipt(conn.ws, headers['receipt']);
      conn.ws.close(1000);
      return;
  }
}

function drop(conn: Connection, sub: Subscription): void {
  conn.subscriptions.delete(sub.id);
  const set = topics.get(sub.destination);
  if (set?.delete(sub) && set.size === 0) topics.delete(sub.destination);
}

void runServer(async () => {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handleProtocols: (offered: Set<string>) =>
      ['v12.stomp', 'v11.stomp', 'v10.stomp'].find((p) => offered.has(p)) ?? false,
  });
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('upgrade', (request, socket, head) => {
    if (request.url !== PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const conn: Connection = { ws, subscriptions: new Map() };
      ws.on('message', (data: Buffer) => onFrame(conn, data));
      ws.on('error', () => undefined);
      ws.on('close', () => {
        for (const sub of [...conn.subscriptions.values()]) drop(conn, sub);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { port: address.port, path: PATH };
}).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
