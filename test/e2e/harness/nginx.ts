// Starts a real nginx (Debian nginx-light) on a free port with a test-supplied http{} block, everything kept in a temp dir.
import { writeFileSync } from 'node:fs';
import { makeTempDir, type TempDir } from './cleanup.js';
import { isPortOpen, withFreePort } from './ports.js';
import { spawnProc, type Proc } from './procs.js';
import { waitFor } from '../../helpers/wait.js';

export const NGINX_BIN = process.env.E2E_NGINX_BIN ?? '/usr/sbin/nginx';

export interface NginxInstance {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  readonly dir: TempDir;
  /** The error log (stderr), where nginx reports upstream and auth_request failures. */
  logs(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** The server{} and upstream{} blocks inside http{}; `{{PORT}}` is nginx's own listening port. */
  http: (port: number) => string;
}

/**
 * Temp paths and logs point into the temp dir so nothing touches /var/lib/nginx or /var/log/nginx.
 * As root the master would hand its workers to "nobody", who cannot enter a 0700 temp dir: keep them root.
 */
function mainConf(dir: TempDir, port: number, http: string): string {
  const asRoot = process.getuid?.() === 0;
  return `${asRoot ? 'user root;\n' : ''}worker_processes 1;
events { worker_connections 256; }
http {
  access_log ${dir.file('access.log')};
  client_body_temp_path ${dir.file('client_body')};
  proxy_temp_path ${dir.file('proxy')};
  fastcgi_temp_path ${dir.file('fastcgi')};
  uwsgi_temp_path ${dir.file('uwsgi')};
  scgi_temp_path ${dir.file('scgi')};
${http.replaceAll('{{PORT}}', String(port))}
}
`;
}

export async function startNginx(o: NginxOptions): Promise<NginxInstance> {
  const dir = makeTempDir('nginx');
  try {
    return await withFreePort(async (port) => {
      const conf = dir.file('nginx.conf');
      writeFileSync(conf, mainConf(dir, port, o.http(port)));
      const globals = `daemon off; pid ${dir.file('nginx.pid')}; error_log stderr notice;`;
      // -e: the log used before the config is read (otherwise the compiled-in /var/log/nginx/error.log).
      const proc = spawnProc(`nginx:${port}`, NGINX_BIN, ['-e', 'stderr', '-p', dir.path, '-c', conf, '-g', globals]);
      try {
        await waitFor(() => isPortOpen(port), {
          what: `nginx on ${port}`,
          timeoutMs: 10_000,
          intervalMs: 50,
          procs: [proc],
        });
      } catch (e) {
        await proc.stop('SIGKILL');
        if (/Address already in use/i.test(proc.logs())) throw new Error(`EADDRINUSE: ${proc.logs()}`);
        throw e;
      }
      let stopped: Promise<void> | undefined;
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        proc,
        dir,
        logs: () => proc.logs(),
        // SIGQUIT is nginx's graceful stop; the workers exit with the master.
        stop: () => (stopped ??= proc.stop('SIGQUIT', 3000).then(() => dir.remove())),
      };
    });
  } catch (e) {
    dir.remove();
    throw e;
  }
}
