/** CloudFront events for the handlers, built from the AWS docs' examples in `test/events/`. */
import { readFileSync } from 'node:fs';
import type { CloudFrontRequestEvent, CloudFrontResponseEvent } from '../../src/edge/cloudfront.js';

const load = (name: string) => readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8');
const requestTemplate = load('origin-request.json');
const responseTemplate = load('origin-response.json');

export interface RequestShape {
  uri: string;
  querystring?: string;
  method?: string;
  accept?: string;
  headers?: Record<string, string>;
}

export function originRequestEvent(shape: RequestShape): CloudFrontRequestEvent {
  const event = JSON.parse(requestTemplate) as CloudFrontRequestEvent;
  const request = event.Records[0].cf.request;
  request.uri = shape.uri;
  request.querystring = shape.querystring ?? '';
  request.method = shape.method ?? 'GET';
  if (shape.accept !== undefined) request.headers.accept = [{ key: 'Accept', value: shape.accept }];
  for (const [name, value] of Object.entries(shape.headers ?? {}))
    request.headers[name.toLowerCase()] = [{ key: name, value }];
  return event;
}

/** An origin-response event for a request as origin-request left it, with S3's status. */
export function originResponseEvent(
  request: CloudFrontRequestEvent['Records'][0]['cf']['request'],
  status: number,
  headers: Record<string, string> = {},
): CloudFrontResponseEvent {
  const event = JSON.parse(responseTemplate) as CloudFrontResponseEvent;
  const record = event.Records[0].cf;
  record.request = {
    ...record.request,
    uri: request.uri,
    querystring: request.querystring,
    method: request.method,
    headers: { ...record.request.headers, ...request.headers },
  };
  record.response.status = String(status);
  record.response.statusDescription = status === 200 ? 'OK' : status === 404 ? 'Not Found' : 'Forbidden';
  for (const [name, value] of Object.entries(headers))
    record.response.headers[name.toLowerCase()] = [{ key: name, value }];
  return event;
}
