// Container ids (pure): every command checks one before it becomes a path under the state root.

const MAX_ID_LENGTH = 1024;

/** runc's container id rule: letters, digits, and _ + - . ; not "." or "..". */
export function validateId(id: string): string | undefined {
  if (id === "") return "container id: must not be empty";
  if (id === "." || id === "..") return `container id: "${id}" is not allowed`;
  if (id.length > MAX_ID_LENGTH) return `container id: longer than ${MAX_ID_LENGTH} characters`;
  if (!/^[\w+\-.]+$/.test(id)) return `container id: "${id}" has characters outside [A-Za-z0-9_+-.]`;
  return undefined;
}
