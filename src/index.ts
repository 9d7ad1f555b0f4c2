import { app } from "@azure/functions";
import { closeBridge } from "./bridge";
import { startTelemetry, stopTelemetry } from "./telemetry/azureMonitor";

// Loaded first by the host (package.json `main`). Each file under functions/ registers one function.
const telemetry = startTelemetry(process.env);

app.hook.appTerminate(async () => {
  await closeBridge();
  if (telemetry) await stopTelemetry();
});
