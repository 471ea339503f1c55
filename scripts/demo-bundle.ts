// Writes the demo's bundle: busybox rootfs + a config whose process prints evidence of isolation.
import { makeBundle } from "../test/bundle.ts";
import * as fs from "node:fs";

const [dir, hostNs] = [process.argv[2]!, process.argv[3] ?? ""];
const script = `
echo "PID of the container's init: $$ (pid namespace: processes visible: $(ls -d /proc/[0-9]* | wc -l))"
echo "hostname: $(hostname)"
echo "user: $(id)"
echo "network interfaces:"; ip -o link | sed 's/^/    /'
echo "mounts:"; sed 's/^/    /' /proc/mounts
echo "namespaces (container vs host):"
for pair in $HOST_NS; do
  t=\${pair%%=*}; h=\${pair#*=}; c=$(readlink /proc/self/ns/$t)
  if [ "$c" = "$h" ]; then s="shared with the host"; else s="new"; fi
  printf '    %-7s %-22s host %-22s %s\\n' "$t" "$c" "$h" "$s"
done
echo "capabilities: $(grep CapEff /proc/self/status)"
`;
const tmp = makeBundle((s) => {
  s.process!.args = ["sh", "-c", script];
  s.process!.env!.push(`HOST_NS=${hostNs.trim()}`);
  s.hostname = "isola-demo";
  s.linux!.namespaces!.push({ type: "time" });
}, "/tmp");
for (const name of fs.readdirSync(tmp)) fs.renameSync(`${tmp}/${name}`, `${dir}/${name}`);
fs.rmdirSync(tmp);
