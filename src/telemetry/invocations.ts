import { format } from "node:util";
import {
  app,
  type FunctionHandler,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from "@azure/functions";
import {
  type Attributes,
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { logs, SeverityNumber } from "@opentelemetry/api-logs";
import { bridgeTracer, type InvocationScope, withInvocationScope } from "./instruments";

const LOG_METHODS = [
  ["trace", SeverityNumber.TRACE],
  ["debug", SeverityNumber.DEBUG],
  ["info", SeverityNumber.INFO],
  ["log", SeverityNumber.INFO],
  ["warn", SeverityNumber.WARN],
  ["error", SeverityNumber.ERROR],
] as const;

/**
 * Each invocation becomes a request span (SERVER for HTTP, CONSUMER for the other triggers) under
 * the host's trace context, carrying what the bridge's spans learn (the event id...), and each of
 * its `context.log` calls also becomes an OpenTelemetry log record with those attributes, so
 * Azure Monitor receives structured traces rather than text lines. Only with telemetry on.
 */
export function traceInvocations(): void {
  app.hook.preInvocation((hook) => {
    const handler: FunctionHandler = hook.functionHandler;
    hook.functionHandler = (trigger: unknown, invocation: InvocationContext) =>
      traced(invocation, trigger, () => handler(trigger, invocation));
  });
}

async function traced(
  invocation: InvocationContext,
  trigger: unknown,
  run: () => unknown,
): Promise<unknown> {
  const http = invocation.options.trigger.type === "httpTrigger";
  const request = http ? (trigger as HttpRequest) : undefined;
  // Without its query: a function key or an Event Grid secret may be in it.
  const url = request ? new URL(request.url) : undefined;
  const parent = propagation.extract(context.active(), {
    traceparent: invocation.traceContext?.traceParent ?? undefined,
    tracestate: invocation.traceContext?.traceState ?? undefined,
  });
  const attributes: Attributes = {
    "faas.name": invocation.functionName,
    "faas.invocation_id": invocation.invocationId,
    "faas.trigger": http ? "http" : invocation.options.trigger.type,
  };
  if (request && url) {
    attributes["http.request.method"] = request.method;
    attributes["url.full"] = `${url.origin}${url.pathname}`;
    attributes["url.path"] = url.pathname;
  }
  const span = bridgeTracer().startSpan(
    request && url ? `${request.method} ${url.pathname}` : invocation.functionName,
    { kind: http ? SpanKind.SERVER : SpanKind.CONSUMER, attributes },
    parent,
  );
  const scope: InvocationScope = { span, attributes: {} };
  forwardLogs(invocation, scope);
  return withInvocationScope(scope, async () => {
    try {
      const result = await run();
      if (http) {
        const status = (result as HttpResponseInit | undefined)?.status ?? 200;
        span.setAttribute("http.response.status_code", status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return result;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

function forwardLogs(invocation: InvocationContext, scope: InvocationScope): void {
  for (const [method, severityNumber] of LOG_METHODS) {
    const write = invocation[method].bind(invocation);
    invocation[method] = (...args: unknown[]) => {
      write(...args);
      logs.getLogger("acr-event-bridge").emit({
        severityNumber,
        severityText: SeverityNumber[severityNumber],
        body: format(...args),
        attributes: {
          ...scope.attributes,
          "faas.name": invocation.functionName,
          "faas.invocation_id": invocation.invocationId,
        },
        context: trace.setSpan(context.active(), scope.span),
      });
    };
  }
}
