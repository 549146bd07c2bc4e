// A browser without a browser for login tests: a cookie jar, manual redirects, and the test provider's login form.

interface JarCookie {
  name: string;
  value: string;
  host: string;
  domain?: string;
  path: string;
  expires?: number;
}

/** Enough of RFC 6265 for tests: host-only and Domain cookies, Path prefix, Max-Age/Expires deletion. Ports are ignored, as browsers do. */
export class CookieJar {
  private cookies: JarCookie[] = [];

  store(url: string, setCookies: readonly string[]): void {
    const u = new URL(url);
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      const c: JarCookie = { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), host: u.hostname, path: '/' };
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        const key = k!.toLowerCase();
        if (key === 'domain') c.domain = v.replace(/^\./, '').toLowerCase();
        else if (key === 'path') c.path = v || '/';
        else if (key === 'max-age') c.expires = Date.now() + Number(v) * 1000;
        else if (key === 'expires' && c.expires === undefined) c.expires = Date.parse(v);
      }
      this.cookies = this.cookies.filter(
        (x) => !(x.name === c.name && x.path === c.path && (x.domain ?? x.host) === (c.domain ?? c.host)),
      );
      if (c.expires === undefined || c.expires > Date.now()) this.cookies.push(c);
    }
  }

  header(url: string): string {
    const u = new URL(url);
    const now = Date.now();
    return this.cookies
      .filter(
        (c) =>
          (c.expires === undefined || c.expires > now) &&
          (c.domain ? u.hostname === c.domain || u.hostname.endsWith('.' + c.domain) : u.hostname === c.host) &&
          u.pathname.startsWith(c.path),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  get(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  names(): string[] {
    return this.cookies.map((c) => c.name);
  }

  set(name: string, value: string, url: string): void {
    this.store(url, [`${name}=${value}; Path=/`]);
  }

  delete(name: string): void {
    this.cookies = this.cookies.filter((c) => c.name !== name);
  }

  clone(): CookieJar {
    const j = new CookieJar();
    j.cookies = this.cookies.map((c) => ({ ...c }));
    return j;
  }
}

export interface Hop {
  url: string;
  status: number;
  location?: string;
}

export class TestBrowser {
  readonly jar: CookieJar;
  constructor(
    jar = new CookieJar(),
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    this.jar = jar;
  }

  /** Another browser holding a copy of this one's cookies (to replay what it held at this moment). */
  clone(): TestBrowser {
    return new TestBrowser(this.jar.clone(), this.extraHeaders);
  }

  /** One request, no redirect following; cookies sent and stored. */
  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.extraHeaders, ...init.headers };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    return res;
  }

  /** Follows redirects until a non-redirect answer, or until `stop(nextUrl)` says to stop before requesting it. */
  async follow(
    url: string,
    stop: (next: string) => boolean = () => false,
    max = 20,
  ): Promise<{ res: Response; url: string; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = url;
    for (let i = 0; i < max; i++) {
      const res = await this.request(current);
      const loc = res.headers.get('location') ?? undefined;
      hops.push({ url: current, status: res.status, location: loc });
      if (res.status < 300 || res.status >= 400 || !loc) return { res, url: current, hops };
      const next = new URL(loc, current).href;
      await res.arrayBuffer();
      if (stop(next)) return { res, url: current, hops };
      current = next;
    }
    throw new Error(`too many redirects: ${hops.map((h) => h.url).join(' -> ')}`);
  }

  /**
   * Starts at `startUrl` (the gateway's /oauth2/start or a protected page), signs in at the test IdP and
   * follows redirects up to the gateway's callback, which is returned without being requested.
   */
  async reachCallback(
    startUrl: string,
    user: { id: string; password: string },
    callbackPath = '/oauth2/callback',
  ): Promise<{ callbackUrl: string; hops: Hop[] }> {
    let callbackUrl: string | undefined;
    const stopAtCallback = (next: string) => {
      if (new URL(next).pathname !== callbackPath) return false;
      callbackUrl = next;
      return true;
    };
    const first = await this.follow(startUrl, stopAtCallback);
    // Still signed in at the IdP (single sign-on): straight back to the callback, no form.
    if (callbackUrl) return { callbackUrl, hops: first.hops };
    const html = await first.res.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (first.res.status !== 200 || !action)
      throw new Error(`no login form at ${first.url} (${first.res.status}): ${html.slice(0, 300)}`);
    const formUrl = new URL(action.replace(/&amp;/g, '&'), first.url).href;
    const posted = await this.request(formUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: user.id, password: user.password }).toString(),
    });
    const loc = posted.headers.get('location');
    if (!loc) throw new Error(`login refused (${posted.status}): ${(await posted.text()).slice(0, 300)}`);
    const rest = await this.follow(new URL(loc, formUrl).href, stopAtCallback);
    const reached = callbackUrl as string | undefined;
    if (!reached)
      throw new Error(`never reached ${callbackPath}: ${rest.hops.map((h) => `${h.status} ${h.url}`).join(' -> ')}`);
    return { callbackUrl: reached, hops: [...first.hops, ...rest.hops] };
  }

  /** reachCallback, then the callback itself: its answer is normally a 302 to rd with the session cookie. */
  async login(
    startUrl: string,
    user: { id: string; password: string },
    callbackPath = '/oauth2/callback',
  ): Promise<{ res: Response; callbackUrl: string }> {
    const { callbackUrl } = await this.reachCallback(startUrl, user, callbackPath);
    return { res: await this.request(callbackUrl), callbackUrl };
  }
}
