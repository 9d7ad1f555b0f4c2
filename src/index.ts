import { app } from "@azure/functions";
import { closeBridge } from "./bridge";

// Loaded first by the host (package.json `main`); each file under functions/ registers one function.
app.hook.appTerminate(() => closeBridge());
