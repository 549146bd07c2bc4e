// pino-roll ships no types: the part promgate uses (it resolves to a sonic-boom stream).
declare module 'pino-roll' {
  import type SonicBoom from 'sonic-boom';
  interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    symlink?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    mkdir?: boolean;
    sync?: boolean;
    minLength?: number;
  }
  export default function pinoRoll(opts: PinoRollOptions): Promise<SonicBoom>;
}
