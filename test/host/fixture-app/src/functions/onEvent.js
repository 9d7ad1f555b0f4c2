const { app } = require("@azure/functions");

app.eventGrid("onEvent", {
  handler: (event, context) => {
    context.log(`event ${event.id} ${event.eventType ?? event.type}`);
    if (event.subject === "fail") throw new Error("event handler failed");
  },
});
