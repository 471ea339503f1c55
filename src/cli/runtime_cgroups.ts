/** isola-runtime verbs that act on a container's cgroups: update, pause, resume, ps, events. */
import type { Command } from "./command.ts";

export const CGROUP_COMMANDS: Record<string, Command> = {};
