// What a library upgrade that renamed the worker's internal module would look like to the host:
// the lookup fails, the library falls back to "test mode" and registers nothing.
function tryGetCoreApi() {
  try {
    return require("@azure/functions-core-next");
  } catch {
    return null;
  }
}

const coreApi = tryGetCoreApi();
if (coreApi) {
  coreApi.registerFunction({ name: "never", bindings: {} }, () => {});
}
