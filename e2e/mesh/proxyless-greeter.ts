import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Client,
  type ServiceClientConstructor,
  Metadata,
  Server,
  ServerCredentials,
  type ServiceError,
  loadPackageDefinition,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { systemClock } from '@parley/core';

/** The tiny gRPC service of the proxyless test: the reply names the service that answered. */
const GREETER_PROTO = `syntax = "proto3";
package parley.e2e;

service Greeter {
  rpc SayHello (HelloRequest) returns (HelloReply);
}

message HelloRequest {
  string name = 1;
}

message HelloReply {
  string message = 1;
  string service = 2;
}
`;

/** A greeter reply. */
export interface HelloReply {
  readonly message: string;
  readonly service: string;
}

/** The Greeter client as grpc-js makes it. */
export interface GreeterClient extends Client {
  SayHello(
    request: { name: string },
    metadata: Metadata,
    options: { deadline: number },
    callback: (err: ServiceError | null, reply?: HelloReply) => void,
  ): void;
}

/** Writes the Greeter proto into `dir` and loads its service constructor. */
export async function loadGreeter(dir: string): Promise<ServiceClientConstructor> {
  const file = join(dir, 'greeter.proto');
  await writeFile(file, GREETER_PROTO);
  const pkg = loadPackageDefinition(loadSync(file, { keepCase: true })) as unknown as {
    parley: { e2e: { Greeter: ServiceClientConstructor } };
  };
  return pkg.parley.e2e.Greeter;
}

/** A greeter app on loopback, plain gRPC (its sidecar terminates mTLS). */
export interface GreeterApp {
  readonly port: number;
  close(): void;
}

/** Starts a greeter named `service` on 127.0.0.1 (a free port). */
export async function startGreeter(
  Greeter: ServiceClientConstructor,
  service: string,
): Promise<GreeterApp> {
  const server = new Server();
  server.addService(Greeter.service, {
    SayHello: (
      call: { request: { name: string } },
      callback: (err: null, reply: HelloReply) => void,
    ) => callback(null, { message: `hello ${call.request.name}`, service }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, close: () => server.forceShutdown() };
}

/** One SayHello through `client`, with `headers` as request metadata. */
export function sayHello(
  client: GreeterClient,
  headers: Readonly<Record<string, string>> = {},
  timeoutMs = 5000,
): Promise<HelloReply> {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve, reject) =>
    client.SayHello(
      { name: 'parley' },
      metadata,
      { deadline: systemClock.now() + timeoutMs },
      (err, r) =>
        err !== null || r === undefined ? reject(err ?? new Error('no reply')) : resolve(r),
    ),
  );
}
