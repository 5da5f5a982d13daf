// A `Call` that runs the named services' handlers in this process, as if through sidecars: for
// tests of the services' logic without sockets.
import { DemoError } from './mesh-http.js';
import type { Call, CallResult, DemoRequest, Handler } from './mesh-http.js';

/** A `Call` dispatching on the service name to `services`; an unknown name answers 503. */
export function directCall(services: Readonly<Record<string, Handler>>): Call {
  const call: Call = async (service, method, path, body): Promise<CallResult> => {
    const handler = services[service];
    if (handler === undefined) return { status: 503, body: 'no healthy upstream' };
    const url = new URL(path, 'http://localhost');
    const req: DemoRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      // The wire round trip: a handler never sees the caller's objects.
      body: body === undefined ? undefined : (JSON.parse(JSON.stringify(body)) as unknown),
    };
    try {
      const res = await handler(req, call);
      const isJson = (res.headers['content-type'] ?? '').startsWith('application/json');
      return {
        status: res.status,
        body: isJson && res.body !== '' ? (JSON.parse(res.body) as unknown) : res.body,
      };
    } catch (e) {
      if (e instanceof DemoError) return { status: e.status, body: { error: e.message } };
      throw e;
    }
  };
  return call;
}
