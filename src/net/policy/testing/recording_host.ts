/**
 * A NetHost for the policy engine's unit tests: sysctls from a map (a missing key is a
 * sysctl that does not exist), every nft transaction recorded, `nft -j` answered from a map.
 * Link operations are not the engine's business and throw.
 */
import type { NetHost } from "../../host.ts";

export class RecordingHost implements NetHost {
  readonly transactions: string[] = [];
  readonly sysctlWrites: [string, string][] = [];
  /** `nft list` answers by argument list (joined by spaces, "-j " first for JSON); a missing entry fails like nft */
  readonly listings = new Map<string, string>();

  constructor(readonly sysctls: Record<string, string> = {}) {}

  async nft(script: string): Promise<void> {
    this.transactions.push(script);
  }

  async nftList(args: readonly string[], opts: { json?: boolean } = {}): Promise<string> {
    const key = `${opts.json ? "-j " : ""}${args.join(" ")}`;
    const out = this.listings.get(key);
    if (out === undefined) throw new Error(`nft list ${key}: No such file or directory`);
    return out;
  }

  async readSysctl(key: string): Promise<string | undefined> {
    return this.sysctls[key];
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    if (!(key in this.sysctls)) throw new Error(`/proc/sys/${key.replaceAll(".", "/")}: No such file or directory`);
    this.sysctls[key] = value;
    this.sysctlWrites.push([key, value]);
  }

  private notMine(what: string): never {
    throw new Error(`RecordingHost: ${what} is not used by the policy engine`);
  }
  apply(): Promise<void> {
    this.notMine("apply");
  }
  ip(): Promise<void> {
    this.notMine("ip");
  }
  ipJson(): Promise<unknown> {
    this.notMine("ipJson");
  }
  deleteLinkLater(): void {
    this.notMine("deleteLinkLater");
  }
  async settle(): Promise<void> {}
  nftElements(): Promise<void> {
    this.notMine("nftElements");
  }
  links(): Promise<Set<string>> {
    this.notMine("links");
  }
}
