// A minimal writer of "newc" cpio archives, the format of a Linux initramfs.

export interface CpioEntry {
  name: string;
  /** File type and permission bits, e.g. 0o100755 for an executable, 0o040755 for a directory, 0o120777 for a symlink. */
  mode: number;
  /** File content, or the target of a symlink. */
  data?: Uint8Array | string;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Encodes entries (directories first) as a newc archive ending in TRAILER!!!. */
export function cpioArchive(entries: CpioEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let ino = 1;
  const put = (name: string, mode: number, data: Uint8Array) => {
    const nameBytes = enc.encode(`${name}\0`);
    const fields = [ino++, mode, 0, 0, mode >>> 12 === 0o04 ? 2 : 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
    parts.push(enc.encode(header), nameBytes, new Uint8Array(pad4(110 + nameBytes.length)), data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    const data = e.data === undefined ? new Uint8Array() : typeof e.data === "string" ? enc.encode(e.data) : e.data;
    put(e.name, e.mode, data);
  }
  put("TRAILER!!!", 0, new Uint8Array());
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total + pad4(total));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
