// Regenerates native/plan_steps.h from src/plan/steps.ts.
import { renderStepsHeader } from "../src/plan/header.ts";
await Bun.write(new URL("../native/plan_steps.h", import.meta.url), renderStepsHeader());
