// RSA test keys without the cost of making them each run: every call gets a key pair no other call in this process got.
import { generateKeyPair as generateNodeKeyPair } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importPKCS8, importSPKI, type CryptoKey } from 'jose';

/**
 * An RSA-2048 key costs ~250 ms of CPU to make and the unit tests use a few dozen. Keys made by earlier runs are
 * kept in the temp dir and handed out again, one per call; a key is made only when a process has used up the
 * kept ones, and is then added to them (best effort: of two processes adding at once, one key is kept). Within a
 * process no key is handed out twice, so a test that asks for two keys gets two different keys.
 */
const POOL_FILE = join(tmpdir(), 'promgate-test-rsa-keys-v1.json');
const MAX_KEPT = 64;

interface PemPair {
  privateKey: string;
  publicKey: string;
}

const makePair = promisify(generateNodeKeyPair);
const used = new Set<string>();
let kept: PemPair[] | undefined;

function readKept(): PemPair[] {
  try {
    const v = JSON.parse(readFileSync(POOL_FILE, 'utf8')) as unknown;
    return Array.isArray(v) ? (v as PemPair[]) : [];
  } catch {
    return [];
  }
}

async function freshPair(): Promise<PemPair> {
  const pair = await makePair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const all = readKept();
  if (all.length < MAX_KEPT) {
    const tmp = `${POOL_FILE}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify([...all, pair]));
    renameSync(tmp, POOL_FILE);
  }
  return pair;
}

/** A distinct RSA key pair for `alg` (RS256, PS256, …), extractable, as jose's generateKeyPair gives one. */
export async function rsaKeyPair(alg = 'RS256'): Promise<{ publicKey: CryptoKey; privateKey: CryptoKey }> {
  kept ??= readKept();
  let pem = kept.find((p) => !used.has(p.publicKey));
  if (!pem) {
    pem = await freshPair();
    kept.push(pem);
  }
  used.add(pem.publicKey);
  return {
    privateKey: await importPKCS8(pem.privateKey, alg, { extractable: true }),
    publicKey: await importSPKI(pem.publicKey, alg, { extractable: true }),
  };
}
