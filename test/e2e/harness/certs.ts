// A certificate authority made at test time (openssl), with server and client certificates for 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestCa {
  caFile: string;
  ca: Buffer;
  /**
   * A leaf certificate signed by this CA; `usage` picks the extended key usage. `subject` replaces `/CN=<name>`
   * (e.g. `/O=x` for none), `san` sets the subjectAltName of a client certificate (`DNS:a,email:b,URI:c`).
   */
  issue(name: string, usage: 'server' | 'client', opts?: { subject?: string; san?: string }): Issued;
}

const openssl = (args: string[], cwd: string) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** Makes a fresh P-256 CA in `dir`; every call gives a different CA (so a certificate from another one is refused). */
export function makeCa(dir: string, name = 'ca'): TestCa {
  const caKey = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}.crt`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      caFile,
      '-days',
      '2',
      '-subj',
      `/CN=promgate test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  let serial = 0;
  return {
    caFile,
    ca: readFileSync(caFile),
    issue(leaf, usage, opts = {}) {
      const keyFile = join(dir, `${name}-${leaf}.key`);
      const csr = join(dir, `${name}-${leaf}.csr`);
      const certFile = join(dir, `${name}-${leaf}.crt`);
      const ext = join(dir, `${name}-${leaf}.ext`);
      writeFileSync(
        ext,
        usage === 'server'
          ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
          : `extendedKeyUsage=clientAuth\n${opts.san ? `subjectAltName=${opts.san}\n` : ''}`,
      );
      openssl(
        [
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          keyFile,
          '-out',
          csr,
          '-subj',
          opts.subject ?? `/CN=${leaf}`,
        ],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          caFile,
          '-CAkey',
          caKey,
          '-set_serial',
          String(Date.now() * 100 + ++serial),
          '-out',
          certFile,
          '-days',
          '1',
          '-extfile',
          ext,
        ],
        dir,
      );
      return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
    },
  };
}
