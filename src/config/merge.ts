// Merging flag overrides into a config tree, and freezing a loaded config. No zod: cli/ and the config child use these.

export function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const t = target[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && t && typeof t === 'object' && !Array.isArray(t)) {
      deepMerge(t as Record<string, unknown>, v as Record<string, unknown>);
    } else if (
      Array.isArray(v) &&
      Array.isArray(t) &&
      v.every((x) => x && typeof x === 'object' && !Array.isArray(x))
    ) {
      v.forEach((item, i) => {
        if (t[i] && typeof t[i] === 'object')
          deepMerge(t[i] as Record<string, unknown>, item as Record<string, unknown>);
        else t[i] = item;
      });
    } else target[k] = v;
  }
  return target;
}

/** Freezes a loaded config and everything in it. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
