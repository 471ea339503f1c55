# Sourced by the build scripts: how isola's TypeScript becomes standalone executables.
# --bytecode: no parsing at start-up. No autoloading of .env or bunfig.toml from the current
# directory: a runtime run as root must not take settings (ISOLA_LAUNCHER, say) from
# whatever directory it was started in.
COMPILE_FLAGS=(build --compile --bytecode --minify --target=bun --no-compile-autoload-dotenv --no-compile-autoload-bunfig)
# For executables that live a few milliseconds (the runtime, CNI plugins): JavaScriptCore
# tiers code up to its JITs only after 1000x the usual number of runs, so start-up code
# stays in the interpreter instead of keeping a JIT thread busy on a 2-core machine.
SHORT_LIVED_FLAGS=(--compile-jit-policy=1000)
