// Reads the zod schema's structure: the keys allowed at a path (for "did you mean") and the reference docs.
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
}

function def(s: z.ZodType): Def {
  return (s as unknown as { _zod: { def: Def } })._zod.def;
}

/** Peel optional/default/pipe wrappers down to the structural type. */
export function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 20; i++) {
    const d = def(cur);
    if (
      (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'prefault') &&
      d.innerType
    )
      cur = d.innerType;
    else if (d.type === 'pipe' && d.in) cur = d.in;
    else return cur;
  }
  return cur;
}

export function objectShape(s: z.ZodType): Record<string, z.ZodType> | undefined {
  const d = def(unwrap(s));
  return d.type === 'object' ? d.shape : undefined;
}

/** Candidate schemas at a config path (unions fan out). */
export function schemasAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let cur: z.ZodType[] = [root];
  for (const seg of path) {
    const next: z.ZodType[] = [];
    for (const s of cur) {
      const d = def(unwrap(s));
      if (d.type === 'object' && typeof seg === 'string' && d.shape?.[seg]) next.push(d.shape[seg]!);
      else if (d.type === 'array' && typeof seg === 'number' && d.element) next.push(d.element);
      else if (d.type === 'record' && d.valueType) next.push(d.valueType);
      else if (d.type === 'union' && d.options)
        next.push(
          ...schemasAt(s, []).flatMap((x) => (def(unwrap(x)).options ?? []).flatMap((o) => schemasAt(o, [seg]))),
        );
    }
    cur = next;
  }
  return cur;
}

export function keysAt(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(root, path)) {
    const d = def(unwrap(s));
    const shapes = d.type === 'union' ? (d.options ?? []).map(objectShape) : [objectShape(s)];
    for (const sh of shapes) for (const k of Object.keys(sh ?? {})) keys.add(k);
  }
  return [...keys];
}
