// Header directives (routes[].headers): remove, set and add on the upstream request and on the answer, with templated values compiled once.
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../authn/identity.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { RouteConfig } from '../config/schema.js';
import { HEADER_VOCAB } from '../config/templates.js';
import { headerNamePattern } from '../config/derived.js';
import { claimAt, claimStrings } from '../tenancy/claims.js';
import {
  TemplateError,
  checkTemplate,
  parseTemplate,
  renderParts,
  type TemplateExpr,
  type TemplatePart,
  type TemplateValue,
} from '../lib/template.js';

/** What a header template reads at request time. `clientIp` is computed only when a template asks for it. */
export interface TemplateRequest {
  identity: Identity;
  /** The client's own request headers (cookies are read from here). */
  incoming: IncomingHttpHeaders;
  clientIp(): string;
}

type Headers = Record<string, string | string[] | number | undefined>;

/** A compiled value: a constant, or a function of the request giving nothing (undefined) or one string. */
type Value = (r: TemplateRequest) => string | undefined;

/** Applies one direction's directives to a header object (lowercase names, as node and undici hold them). */
export type DirectiveFn = (r: TemplateRequest, headers: Headers) => void;

export interface CompiledDirectives {
  request?: DirectiveFn;
  response?: DirectiveFn;
}

/** CR, LF, NUL and the other control characters (tab allowed) can never be in a header value. */
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;

/** The first value of cookie `name` in a Cookie header; quotes around it are removed. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

function variable(e: TemplateExpr): (r: TemplateRequest) => TemplateValue {
  switch (e.name) {
    case 'user':
      return (r) => r.identity.user;
    case 'email':
      return (r) => r.identity.email;
    case 'subject':
      return (r) => r.identity.subject;
    case 'groups':
      return (r) => r.identity.groups;
    case 'id_token':
      return (r) => r.identity.tokens?.idToken;
    case 'access_token':
      return (r) => r.identity.tokens?.accessToken;
    case 'client_ip':
      return (r) => r.clientIp();
    case 'claims': {
      const path = e.path!;
      return (r) => {
        const v = claimAt(r.identity.claims, path);
        return Array.isArray(v) ? claimStrings(v) : claimStrings(v)[0];
      };
    }
    case 'cookie': {
      const name = e.args[0]!;
      return (r) => {
        const c = r.incoming.cookie;
        return cookieValue(Array.isArray(c) ? c.join('; ') : c, name);
      };
    }
    default:
      throw new TemplateError(`unknown variable ${e.source}`);
  }
}

export interface CompileOptions {
  /** promgate's own session cookie name: a template may not hand the sealed session to an upstream. */
  sessionCookie?: string;
  env: NodeJS.ProcessEnv;
}

/**
 * One header value template → a function. `env` and `file` are read here, once per load (a reload reads them
 * again); an unset variable is nothing, an unreadable file a config error. Values with CR, LF, NUL or other
 * control characters are nothing, so they remove the header rather than reach the wire.
 */
export function compileValue(text: string, opts: CompileOptions): Value {
  const parts = parseTemplate(text);
  checkTemplate(parts, HEADER_VOCAB);
  const resolved: (TemplatePart | { constant: string | undefined; filters: TemplateExpr['filters'] })[] = parts.map(
    (p) => {
      if (typeof p === 'string') return p;
      if (p.name === 'env') return { constant: opts.env[p.args[0]!], filters: p.filters };
      if (p.name === 'file') {
        try {
          return { constant: readFileSync(p.args[0]!, 'utf8').replace(/\r?\n$/, ''), filters: p.filters };
        } catch (e) {
          throw new TemplateError(
            `${p.source}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          );
        }
      }
      if (p.name === 'cookie' && opts.sessionCookie && p.args[0]!.startsWith(opts.sessionCookie))
        throw new TemplateError(`${p.source}: promgate's own session cookie is never sent upstream`);
      return p;
    },
  );
  // Constants (env, file) ignore the request; at load they are rendered without one.
  const getters = new Map<TemplateExpr, (r?: TemplateRequest) => TemplateValue>();
  const rendered: TemplatePart[] = resolved.map((p) => {
    if (typeof p === 'string' || !('constant' in p)) return p;
    // A constant joins the template as an expression whose value is fixed.
    const e: TemplateExpr = { name: 'constant', args: [], filters: p.filters, source: '' };
    getters.set(e, () => p.constant);
    return e;
  });
  const constant = rendered.every((p) => typeof p === 'string' || getters.has(p));
  for (const p of rendered) {
    if (typeof p === 'string' || getters.has(p)) continue;
    const read = variable(p);
    getters.set(p, (r) => read(r!));
  }
  if (constant) {
    // Literals, env and files only: rendered once here, so a bad value is a config error, not a dropped header.
    const fixed = renderParts(rendered, (e) => getters.get(e)!());
    if (fixed !== undefined && BAD_VALUE.test(fixed))
      throw new TemplateError('a header value may not contain CR, LF, NUL or control characters');
    return () => fixed;
  }
  return (r) => {
    const v = renderParts(rendered, (e) => getters.get(e)!(r));
    return v === undefined || BAD_VALUE.test(v) ? undefined : v;
  };
}

type Ops = NonNullable<NonNullable<RouteConfig['headers']>['request']>;

function compileOps(ops: Ops, at: (string | number)[], opts: CompileOptions, issues: ConfigIssue[]): DirectiveFn {
  const removes = ops.remove.map(headerNamePattern);
  const compile = (op: 'set' | 'add') =>
    Object.entries(ops[op]).flatMap(([name, text]) => {
      try {
        return [[name.toLowerCase(), compileValue(text, opts)] as const];
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        issues.push({ path: [...at, op, name], message: e.message });
        return [];
      }
    });
  const sets = compile('set');
  const adds = compile('add');
  return (r, headers) => {
    if (removes.length > 0)
      for (const name of Object.keys(headers)) if (removes.some((t) => t(name.toLowerCase()))) delete headers[name];
    for (const [name, value] of sets) {
      const v = value(r);
      if (v === undefined) delete headers[name];
      else headers[name] = v;
    }
    for (const [name, value] of adds) {
      const v = value(r);
      if (v === undefined) continue;
      const prev = headers[name];
      headers[name] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [String(prev)]), v];
    }
  };
}

/** The route's directives compiled, or a ConfigError naming every bad template with its key path. */
export function compileDirectives(route: RouteConfig, index: number, opts: CompileOptions): CompiledDirectives {
  const h = route.headers;
  if (!h) return {};
  const issues: ConfigIssue[] = [];
  const out: CompiledDirectives = {
    request: h.request && compileOps(h.request, ['routes', index, 'headers', 'request'], opts, issues),
    response: h.response && compileOps(h.response, ['routes', index, 'headers', 'response'], opts, issues),
  };
  if (issues.length > 0) throw ConfigError.of(issues);
  return out;
}
