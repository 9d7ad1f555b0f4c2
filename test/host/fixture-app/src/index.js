const { app } = require("@azure/functions");

// Lets the tests see the app-level and invocation hooks run, in this process.
const hookCalls = [];
globalThis.fixtureAppHookCalls = hookCalls;

app.hook.appStart((context) => {
  context.hookData.startedBy = "appStart";
  hookCalls.push("appStart");
});
app.hook.appTerminate((context) => {
  hookCalls.push(`appTerminate after ${context.hookData.startedBy}`);
});
app.hook.preInvocation((context) => {
  hookCalls.push(`preInvocation:${context.invocationContext.functionName}`);
});
